package dhcp

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/camwarden/camwarden/probes"
)

// Decoder is the passive DHCP decoder. It reads client messages (UDP 68 to
// 67) only: server replies describe the server's offer, not the device.
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "dhcp" }

// Decode implements probes.Decoder.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if f.IPProto != probes.ProtoUDP || f.SrcPort != 68 || f.DstPort != 67 || !f.SrcIP.Is4() {
		return nil
	}
	m, err := Parse(f.Payload)
	if errors.Is(err, ErrNotDHCP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dhcp: from %s: %w", f.Src, err)
	}
	if m.Op != BootRequest {
		return fmt.Errorf("dhcp: from %s: op %d from a client port", f.Src, m.Op)
	}
	mac := m.CHAddr
	if mac == nil {
		// non-Ethernet hardware type: the frame's sender is the client
		mac = f.Src
	}
	o := probes.Observation{Time: f.Time, MAC: mac, VLAN: f.VLAN, Probe: "dhcp"}
	switch {
	case m.CIAddr.IsValid() && !m.CIAddr.IsUnspecified():
		o.IP = m.CIAddr
	case !f.SrcIP.IsUnspecified():
		o.IP = f.SrcIP
	}
	if t := m.Type(); t != 0 {
		o.Facts = append(o.Facts, probes.F("dhcp.msg", TypeName(t)))
	}
	if v, ok := m.Options[OptHostname]; ok {
		o.Facts = append(o.Facts, probes.F("dhcp.hostname", string(v)))
	}
	if v, ok := m.Options[OptVendorClass]; ok {
		o.Facts = append(o.Facts, probes.F("dhcp.vendor_class", string(v)))
	}
	if v, ok := m.Options[OptParams]; ok {
		o.Facts = append(o.Facts, probes.F("dhcp.params", Params(v)))
		// Only the messages a booting client sends carry its own defaults:
		// INFORM and RELEASE often come from other software on the host.
		if t := m.Type(); t == Discover || t == Request {
			o.Facts = append(o.Facts, probes.F("dhcp.fingerprint", Fingerprint(v, m.Options[OptVendorClass])))
		}
	}
	if v, ok := m.Options[OptClientID]; ok {
		o.Facts = append(o.Facts, probes.F("dhcp.client_id", hex.EncodeToString(v)))
	}
	if v, ok := m.Options[OptFQDN]; ok {
		name, err := FQDN(v)
		if err != nil {
			return fmt.Errorf("dhcp: from %s: %w", f.Src, err)
		}
		if name != "" {
			o.Facts = append(o.Facts, probes.F("dhcp.fqdn", name))
		}
	}
	emit(o)
	return nil
}
