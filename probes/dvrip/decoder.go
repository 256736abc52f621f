package dvrip

import (
	"fmt"

	"github.com/camwarden/camwarden/probes"
)

// Decoder reads DVRIP discovery replies seen on the wire (answers to another
// tool's search). Searches say nothing about the sender and are ignored.
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "dvrip" }

// Decode implements probes.Decoder.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if !f.UDPPort(Port) || !IsReply(f.Payload) {
		return nil
	}
	r, err := ParseReply(f.Payload)
	if err != nil {
		return fmt.Errorf("dvrip: parse reply from %s: %w", f.SrcIP, err)
	}
	emit(probes.Observation{Time: f.Time, MAC: f.Src, IP: f.SrcIP, VLAN: f.VLAN, Probe: "dvrip", Facts: r.Facts()})
	return nil
}
