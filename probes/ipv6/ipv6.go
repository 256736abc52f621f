package ipv6

import (
	"net"
	"net/netip"

	"github.com/camwarden/camwarden/probes"
)

// EUI64MAC returns the MAC embedded in a link-local address's modified
// EUI-64 interface identifier, and false when the address is not link-local,
// the identifier lacks the ff:fe marker, or the result is not a unicast
// station address.
func EUI64MAC(a netip.Addr) (net.HardwareAddr, bool) {
	if !a.Is6() || a.Is4In6() || !a.IsLinkLocalUnicast() {
		return nil, false
	}
	b := a.As16()
	// fe80::/64 only: link-local addresses in the rest of fe80::/10 are not
	// formed from an interface identifier by SLAAC
	for _, c := range b[2:8] {
		if c != 0 {
			return nil, false
		}
	}
	if b[11] != 0xff || b[12] != 0xfe {
		return nil, false
	}
	mac := net.HardwareAddr{b[8] ^ 0x02, b[9], b[10], b[13], b[14], b[15]}
	if mac[0]&0x01 != 0 {
		return nil, false // a group address is no station's MAC
	}
	zero := true
	for _, c := range mac {
		if c != 0 {
			zero = false
		}
	}
	if zero {
		return nil, false
	}
	return mac, true
}

// Decoder is the passive IPv6 decoder: every IPv6 frame whose source is an
// EUI-64 link-local address yields the MAC it was formed from.
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "ipv6" }

// Decode implements probes.Decoder. Frames without an EUI-64 link-local
// source are not its business; no frame is malformed to it, because capture
// has already validated the IPv6 header.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if f.EtherType != probes.EtherTypeIPv6 {
		return nil
	}
	mac, ok := EUI64MAC(f.SrcIP)
	if !ok || len(f.Src) != 6 {
		return nil
	}
	emit(probes.Observation{
		Time:  f.Time,
		MAC:   f.Src,
		IP:    f.SrcIP,
		VLAN:  f.VLAN,
		Probe: "ipv6",
		Facts: []probes.Fact{probes.F("ipv6.eui64", mac.String())},
	})
	return nil
}
