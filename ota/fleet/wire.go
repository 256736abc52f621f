package fleet

// This file is the only one in the package that knows the MQTT contract:
// topic strings, payload types and their decoders. Everything else works on
// Message, so a change of the contract is a change here.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/wire"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/update"
)

// Kind says what a Message carries.
type Kind int

// Message kinds the store keeps.
const (
	KindStatus Kind = iota + 1
	KindInfo
	KindDevice
	KindForget // empty retained devices/{mac}: the appliance forgot it
	KindEvent
	KindPolicy // policy/reported
	KindOTA    // ota/status
)

// Event types the store reads beyond keeping them.
const (
	EvtAcknowledged = report.EvtAcknowledged
	EvtRelayCut     = report.EvtRelayCut
	EvtRelayRestore = report.EvtRelayRestored
)

// Device statuses, as published.
const (
	StatusFlagged = report.StatusFlagged
	StatusClean   = report.StatusClean
	StatusReview  = report.StatusReview
	StatusUnknown = report.StatusUnknown
)

// Device is one device as published (the public survey shape).
type Device = report.Device

// DeviceRecord is a stored device payload read back.
type DeviceRecord struct {
	report.Device
}

// PolicyReport mirrors the appliance's policy/reported payload.
type PolicyReport struct {
	wire.Header
	policy.Report
}

// OTAReport mirrors the appliance's ota/status payload.
type OTAReport struct {
	wire.Header
	update.Status
}

// Message is one decoded MQTT message with what the store keys it on.
type Message struct {
	Topic     string
	Raw       []byte
	Kind      Kind
	Appliance string
	MAC       string // KindDevice, KindForget; the event's mac for KindEvent
	Seq       uint64
	MsgID     string
	TS        time.Time
	// Historical is true for events that waited in the appliance's outbox:
	// their ts does not say the appliance is alive now.
	Historical bool

	Status *wire.StatusPayload
	Info   *wire.InfoPayload
	Device *wire.DevicePayload
	Event  *wire.EventPayload
	Policy *PolicyReport
	OTA    *OTAReport
}

const (
	topicPolicyReported = "policy/reported"
	topicOTAStatus      = update.TopicStatus
)

// Filters are the subscriptions of an ingest process. With group set they
// are shared ($share/{group}/...), so the processes of one group split the
// messages between them.
func Filters(group string) map[string]byte {
	prefix := ""
	if group != "" {
		prefix = "$share/" + group + "/"
	}
	out := map[string]byte{}
	for _, t := range []string{"+/status", "+/info", "+/devices/+", "+/evt/+", "+/" + topicPolicyReported, "+/" + topicOTAStatus} {
		out[prefix+wire.TopicRoot+t] = 1
	}
	return out
}

// ValidGroup reports whether a shared-subscription group name is usable.
func ValidGroup(g string) bool {
	return g != "" && len(g) <= 64 && !strings.ContainsAny(g, "/+#")
}

// ErrNotFleet is returned for topics outside the fleet tree.
var ErrNotFleet = errors.New("not a fleet topic")

// ErrEmpty is returned for an empty payload where only a device's means
// something.
var ErrEmpty = errors.New("empty payload")

// maxField bounds identifiers taken from a topic or payload.
const maxField = 256

// Decode parses one message (payloads are bounded by wire.MaxPayload).
func Decode(topic string, payload []byte) (Message, error) {
	app, kind, rest, ok := wire.ParseTopic(topic)
	if !ok || app == "fleet" || len(app) > maxField {
		return Message{}, ErrNotFleet
	}
	m := Message{Topic: topic, Raw: payload, Appliance: app}
	if len(payload) == 0 && kind != wire.KindDevice {
		// A cleared retained message (an operator removing a gone
		// appliance's state): nothing to store.
		return m, ErrEmpty
	}
	header := func(h wire.Header) error {
		if h.Appliance != "" && h.Appliance != app {
			return fmt.Errorf("payload names appliance %q on %q's topic", h.Appliance, app)
		}
		if h.Seq > 1<<62 || len(h.MsgID) > maxField {
			return errors.New("seq or msg_id out of range")
		}
		m.Seq, m.MsgID, m.TS = h.Seq, h.MsgID, h.TS
		return nil
	}
	switch {
	case kind == wire.KindStatus && rest == "":
		p, err := wire.DecodeStatus(payload)
		if err != nil {
			return m, err
		}
		m.Kind, m.Status = KindStatus, &p
		return m, header(p.Header)
	case kind == wire.KindInfo && rest == "":
		p, err := wire.DecodeInfo(payload)
		if err != nil {
			return m, err
		}
		m.Kind, m.Info = KindInfo, &p
		return m, header(p.Header)
	case kind == wire.KindDevice && rest != "" && !strings.Contains(rest, "/"):
		if len(rest) > maxField {
			return m, errors.New("device topic too long")
		}
		m.MAC = rest
		p, ok, err := wire.DecodeDevice(payload)
		if err != nil {
			return m, err
		}
		if !ok {
			m.Kind = KindForget
			return m, nil
		}
		m.Kind, m.Device = KindDevice, &p
		return m, header(p.Header)
	case kind == wire.KindEvent && rest != "":
		p, err := wire.DecodeEvent(payload)
		if err != nil {
			return m, err
		}
		if len(p.MAC) > maxField || len(p.Type) > maxField {
			return m, errors.New("event field too long")
		}
		m.Kind, m.Event, m.MAC, m.Historical = KindEvent, &p, p.MAC, p.Historical
		return m, header(p.Header)
	case kind+"/"+rest == topicPolicyReported:
		var p PolicyReport
		if err := decodeJSON(payload, &p, policy.SchemaReported, &p.Header); err != nil {
			return m, err
		}
		m.Kind, m.Policy = KindPolicy, &p
		return m, header(p.Header)
	case kind+"/"+rest == topicOTAStatus:
		var p OTAReport
		if err := decodeJSON(payload, &p, update.SchemaStatus, &p.Header); err != nil {
			return m, err
		}
		m.Kind, m.OTA = KindOTA, &p
		return m, header(p.Header)
	}
	return m, ErrNotFleet
}

func decodeJSON(b []byte, v any, schema string, h *wire.Header) error {
	if len(b) > wire.MaxPayload {
		return fmt.Errorf("payload of %d bytes exceeds %d", len(b), wire.MaxPayload)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	if h.Schema != schema {
		return fmt.Errorf("schema %q, want %q", h.Schema, schema)
	}
	return nil
}

// DecodeDeviceRecord reads a stored device payload back.
func DecodeDeviceRecord(b []byte) (DeviceRecord, error) {
	var d DeviceRecord
	err := json.Unmarshal(b, &d)
	return d, err
}

// Publication is one message as an appliance sends it. Simulators (tests,
// cwbench fleet) build theirs here so the contract stays in this file.
type Publication struct {
	Topic    string
	Retained bool
	Payload  []byte
}

// msgID is stable for (appliance, seq), as a re-sent event's must be.
func msgID(app string, seq uint64) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", app, seq))
	return hex.EncodeToString(h[:16])
}

func header(schema, app string, seq uint64, ts time.Time) wire.Header {
	return wire.Header{Schema: schema, Appliance: app, TS: ts.UTC(), Seq: seq, MsgID: msgID(app, seq)}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs and maps are marshalled here
	}
	return b
}

// StatusPub is an appliance's retained status.
func StatusPub(app string, seq, session uint64, ts time.Time, st report.Status) Publication {
	p := wire.StatusPayload{Header: header(wire.SchemaStatus, app, seq, ts), Session: session, Status: st}
	return Publication{wire.TopicRoot + app + "/status", true, mustJSON(p)}
}

// InfoPub is an appliance's retained info.
func InfoPub(app string, seq, session uint64, ts time.Time, firmware string, policyVersion uint64) Publication {
	p := wire.InfoPayload{Header: header(wire.SchemaInfo, app, seq, ts), Session: session, Firmware: firmware,
		PolicyVersion: policyVersion, Interfaces: []string{"eth0"}}
	return Publication{wire.TopicRoot + app + "/info", true, mustJSON(p)}
}

// DevicePub is one device's retained state.
func DevicePub(app string, seq uint64, ts time.Time, d Device) Publication {
	p := wire.DevicePayload{Header: header(wire.SchemaDevice, app, seq, ts), Device: d}
	return Publication{wire.TopicRoot + app + "/devices/" + wire.DeviceTopicLevel(d.Key()), true, mustJSON(p)}
}

// ForgetPub clears a device's retained state.
func ForgetPub(app, mac string) Publication {
	return Publication{wire.TopicRoot + app + "/devices/" + mac, true, nil}
}

// EventPub is one event.
func EventPub(app string, seq uint64, ts time.Time, typ, mac string, data map[string]any, historical bool) Publication {
	p := wire.EventPayload{Header: header(wire.SchemaEvent, app, seq, ts), Type: typ, MAC: mac, Data: data, Historical: historical}
	return Publication{wire.TopicRoot + app + "/evt/" + typ, false, mustJSON(p)}
}

// PolicyPub is a retained policy/reported.
func PolicyPub(app string, seq uint64, ts time.Time, r policy.Report) Publication {
	p := PolicyReport{Header: header(policy.SchemaReported, app, seq, ts), Report: r}
	return Publication{wire.TopicRoot + app + "/" + topicPolicyReported, true, mustJSON(p)}
}

// OTAPub is a retained ota/status.
func OTAPub(app string, seq uint64, ts time.Time, s update.Status) Publication {
	p := OTAReport{Header: header(update.SchemaStatus, app, seq, ts), Status: s}
	return Publication{wire.TopicRoot + app + "/" + topicOTAStatus, true, mustJSON(p)}
}
