package dhip

import (
	"errors"
	"fmt"

	"github.com/camwarden/camwarden/probes"
)

// Decoder reads DHIP replies seen on the wire (a reply to another tool's
// search, or a device announcing itself), attributed to the frame's source
// MAC and address whatever mac the reply names. Searches say nothing about
// the sender's maker (ConfigTool, NVRs and appliances all send them) and
// are ignored.
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "dhip" }

// Decode implements probes.Decoder.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if !f.UDPPort(Port) || !IsDHIP(f.Payload) {
		return nil
	}
	r, err := ParseReply(f.Payload)
	if errors.Is(err, ErrNotAnswers) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dhip: parse reply from %s: %w", f.SrcIP, err)
	}
	emit(probes.Observation{Time: f.Time, MAC: f.Src, IP: f.SrcIP, VLAN: f.VLAN, Probe: "dhip", Facts: r.Facts()})
	return nil
}
