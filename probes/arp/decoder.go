package arp

import (
	"errors"
	"fmt"

	"github.com/camwarden/camwarden/probes"
)

// Decoder is the passive ARP decoder: every ARP packet on the link tells us
// a MAC and (except for probes) the IP it uses.
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "arp" }

// Decode implements probes.Decoder.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if f.EtherType != probes.EtherTypeARP {
		return nil
	}
	p, err := Parse(f.Payload)
	if errors.Is(err, ErrNotEthernetIPv4) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("arp: from %s: %w", f.Src, err)
	}
	kind := p.Kind()
	if kind == "" {
		return fmt.Errorf("arp: from %s: unknown operation %d", f.Src, p.Op)
	}
	if p.SenderMAC[0]&1 != 0 || isZero(p.SenderMAC) {
		return fmt.Errorf("arp: from %s: sender MAC %s is not a unicast station", f.Src, p.SenderMAC)
	}
	o := probes.Observation{
		Time:  f.Time,
		MAC:   p.SenderMAC,
		VLAN:  f.VLAN,
		Probe: "arp",
		Facts: []probes.Fact{probes.F("arp.op", kind)},
	}
	if !p.SenderIP.IsUnspecified() {
		o.IP = p.SenderIP
	}
	emit(o)
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
