package sadp

import (
	"fmt"

	"github.com/camwarden/camwarden/probes"
)

// Decoder reads SADP datagrams seen on the wire, attributed to the frame's
// source MAC and address whatever the payload names. Any SADP traffic from
// a host is worth a sadp.seen fact, but only a reply (a ProbeMatch, asked
// for or announced unprompted) says what the sender is; an inquiry is a
// question that Hikvision's SADP tool, NVRs, installers' laptops and other
// appliances all ask, recorded as sadp.seen=inquiry and nothing more.
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "sadp" }

// Decode implements probes.Decoder.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if !f.UDPPort(Port) || len(f.Payload) == 0 {
		return nil
	}
	kind := Kind(f.Payload)
	if kind == "" {
		return nil
	}
	obs := probes.Observation{Time: f.Time, MAC: f.Src, IP: f.SrcIP, VLAN: f.VLAN, Probe: "sadp"}
	if kind == "inquiry" {
		obs.Facts = []probes.Fact{probes.F("sadp.seen", "inquiry")}
		emit(obs)
		return nil
	}
	r, err := ParseReply(f.Payload)
	if err != nil {
		return fmt.Errorf("sadp: parse reply from %s: %w", f.SrcIP, err)
	}
	obs.Facts = append([]probes.Fact{probes.F("sadp.seen", "reply")}, r.Facts()...)
	emit(obs)
	return nil
}
