package wsd

import (
	"fmt"

	"github.com/camwarden/camwarden/probes"
)

// Decoder reads sniffed WS-Discovery datagrams (UDP 3702): Hello at boot,
// Bye at shutdown, and ProbeMatches answering anyone's Probe. The zero value
// is ready to use.
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "wsd" }

// Decode implements probes.Decoder. A Probe is a client's question (a VMS,
// an NVR, Windows, another appliance): its Types and Scopes say what the
// client is looking for, not what it is, so its sender gets wsd.msg=probe
// and nothing else. Only Hello, Bye and ProbeMatches describe their sender.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if !f.UDPPort(Port) || len(f.Payload) == 0 {
		return nil
	}
	m, err := Parse(f.Payload)
	if err != nil {
		return fmt.Errorf("wsd: parse datagram from %s: %w", f.SrcIP, err)
	}
	switch m.Kind {
	case KindHello, KindBye, KindProbeMatches:
	case KindProbe:
		emit(probes.Observation{
			Time:  f.Time,
			MAC:   append([]byte(nil), f.Src...),
			IP:    f.SrcIP,
			VLAN:  f.VLAN,
			Probe: "wsd",
			Facts: []probes.Fact{probes.F("wsd.msg", m.Kind.String())},
		})
		return nil
	default:
		return nil
	}
	for _, e := range m.Endpoints {
		fs := append(e.Facts(), probes.F("wsd.msg", m.Kind.String()))
		emit(probes.Observation{
			Time:  f.Time,
			MAC:   append([]byte(nil), f.Src...),
			IP:    f.SrcIP,
			VLAN:  f.VLAN,
			Probe: "wsd",
			Facts: fs,
		})
	}
	return nil
}
