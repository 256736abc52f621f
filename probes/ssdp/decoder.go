package ssdp

import (
	"fmt"

	"github.com/camwarden/camwarden/probes"
)

// Decoder reads NOTIFYs and M-SEARCH answers seen on the wire (UDP port 1900
// either side). Searches describe the asker's wishes, not the asker, and are
// ignored.
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "ssdp" }

// Decode implements probes.Decoder.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if !f.UDPPort(Port) || len(f.Payload) == 0 {
		return nil
	}
	m, err := Parse(f.Payload)
	if err != nil {
		return fmt.Errorf("ssdp: parse datagram from %s: %w", f.SrcIP, err)
	}
	if m.Kind == KindMSearch {
		return nil
	}
	if fs := m.Facts(); len(fs) > 0 {
		emit(probes.Observation{Time: f.Time, MAC: f.Src, IP: f.SrcIP, VLAN: f.VLAN, Probe: "ssdp", Facts: fs})
	}
	return nil
}
