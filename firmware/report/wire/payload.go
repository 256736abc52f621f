package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
)

// Topic root for every appliance: camwarden/v1/{appliance}/...
const TopicRoot = "camwarden/v1/"

// FleetTopic is the root of the fleet-wide down-link topics
// (camwarden/v1/fleet/policy, camwarden/v1/fleet/keys). No appliance may
// use "fleet" as its id.
const FleetTopic = TopicRoot + "fleet/"

// Schema names carried in every payload's "schema" field. The suffix is the
// schema's major version: fields are only ever added within a version.
const (
	SchemaStatus = "camwarden.status/1"
	SchemaInfo   = "camwarden.info/1"
	SchemaDevice = "camwarden.device/1"
	SchemaEvent  = "camwarden.event/1"
	SchemaTele   = "camwarden.tele/1"
)

// EvtOutboxDropped reports how many queued events the bounded outbox dropped
// while the link was down; data.dropped holds the count.
const EvtOutboxDropped = "outbox_dropped"

// MaxPayload caps what the decoders accept; larger messages are refused
// before parsing.
const MaxPayload = 256 << 10

// Header is common to every payload.
type Header struct {
	Schema    string    `json:"schema"`
	Appliance string    `json:"appliance"`
	TS        time.Time `json:"ts"`
	// Seq increases strictly over the appliance's life (across restarts).
	Seq   uint64 `json:"seq"`
	MsgID string `json:"msg_id"`
}

// StatusPayload is published retained on status, and is the will.
type StatusPayload struct {
	Header
	// Session increases with every connection the appliance makes; a
	// consumer ignores a status whose (session, seq) is older than the one it
	// holds, so a late will cannot override a newer online.
	Session uint64 `json:"session"`
	report.Status
}

// InfoPayload is published retained on info.
type InfoPayload struct {
	Header
	Session       uint64   `json:"session"`
	Firmware      string   `json:"firmware"`
	PolicyVersion uint64   `json:"policy_version"`
	Interfaces    []string `json:"interfaces"`
}

// DevicePayload is published retained on devices/{mac}.
type DevicePayload struct {
	Header
	report.Device
}

// EventPayload is published on evt/{type}. TS is the time the event
// happened, not the time it was sent.
type EventPayload struct {
	Header
	Type string         `json:"type"`
	MAC  string         `json:"mac,omitempty"`
	Data map[string]any `json:"data,omitempty"`
	// Historical is true when the event waited in the outbox across a broker
	// outage or an appliance restart.
	Historical bool `json:"historical,omitempty"`
}

// TelePayload is published on tele at QoS 0.
type TelePayload struct {
	Header
	Data any `json:"data"`
}

// DeviceTopicLevel is the devices/{level} topic level of a device key: the
// MAC, or for a camera behind a recorder "{recorder mac}-ch{n}" (its
// identity "{recorder mac}/ch{n}" with the slash that cannot be part of one
// topic level replaced), so devices/+ still matches every device.
func DeviceTopicLevel(key string) string { return strings.ReplaceAll(key, "/", "-") }

// Topic kinds returned by ParseTopic.
const (
	KindStatus = "status"
	KindInfo   = "info"
	KindDevice = "devices"
	KindEvent  = "evt"
	KindTele   = "tele"
)

// ParseTopic splits camwarden/v1/{appliance}/{kind}[/{rest}]. ok is false for
// topics outside the tree.
func ParseTopic(topic string) (appliance, kind, rest string, ok bool) {
	if len(topic) > 1024 || !strings.HasPrefix(topic, TopicRoot) {
		return "", "", "", false
	}
	parts := strings.SplitN(topic[len(TopicRoot):], "/", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", "", "", false
	}
	if len(parts) == 3 {
		rest = parts[2]
	}
	return parts[0], parts[1], rest, true
}

func decode[T any](what string, b []byte, check func(*T) error) (T, error) {
	var v T
	if len(b) > MaxPayload {
		return v, fmt.Errorf("wire: decode %s: payload of %d bytes exceeds %d", what, len(b), MaxPayload)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("wire: decode %s: %w", what, err)
	}
	if err := check(&v); err != nil {
		return v, fmt.Errorf("wire: decode %s: %w", what, err)
	}
	return v, nil
}

func checkSchema(h Header, want string) error {
	// Accept any minor evolution of the same major version.
	if h.Schema != want {
		return fmt.Errorf("schema %q, want %q", h.Schema, want)
	}
	return nil
}

// DecodeStatus parses a status payload (at most MaxPayload bytes).
func DecodeStatus(b []byte) (StatusPayload, error) {
	return decode("status", b, func(p *StatusPayload) error { return checkSchema(p.Header, SchemaStatus) })
}

// DecodeInfo parses an info payload.
func DecodeInfo(b []byte) (InfoPayload, error) {
	return decode("info", b, func(p *InfoPayload) error { return checkSchema(p.Header, SchemaInfo) })
}

// DecodeDevice parses a devices/{mac} payload. An empty payload is a cleared
// retained message (the device was forgotten) and is reported as ok=false.
func DecodeDevice(b []byte) (p DevicePayload, ok bool, err error) {
	if len(b) == 0 {
		return p, false, nil
	}
	p, err = decode("device", b, func(p *DevicePayload) error { return checkSchema(p.Header, SchemaDevice) })
	return p, err == nil, err
}

// DecodeEvent parses an evt/{type} payload.
func DecodeEvent(b []byte) (EventPayload, error) {
	return decode("event", b, func(p *EventPayload) error {
		if err := checkSchema(p.Header, SchemaEvent); err != nil {
			return err
		}
		if p.Type == "" {
			return fmt.Errorf("no type")
		}
		return nil
	})
}
