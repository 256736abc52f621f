package lldp

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"unicode/utf8"

	"github.com/camwarden/camwarden/probes"
)

// TLV types (IEEE 802.1AB-2016 table 8-1).
const (
	tlvEnd         = 0
	tlvChassisID   = 1
	tlvPortID      = 2
	tlvTTL         = 3
	tlvPortDesc    = 4
	tlvSystemName  = 5
	tlvSystemDesc  = 6
	tlvMgmtAddress = 8
	maxTLVs        = 128 // far more than any real LLDPDU carries
	maxMgmt        = 4
)

// Info is what an LLDPDU says about its sender.
type Info struct {
	ChassisID         string
	PortID            string
	TTL               uint16
	PortDescription   string
	SystemName        string
	SystemDescription string
	MgmtAddrs         []netip.Addr
}

// Parse reads an LLDPDU (the bytes after the Ethernet header; trailing
// padding after the End TLV is ignored). The chassis id and port id TLVs are
// required, as the standard makes them.
func Parse(b []byte) (*Info, error) {
	if len(b) > probes.MaxPayload {
		b = b[:probes.MaxPayload]
	}
	var in Info
	var haveChassis, havePort bool
	for n := 0; len(b) > 0; n++ {
		if n >= maxTLVs {
			return nil, fmt.Errorf("lldp: more than %d TLVs", maxTLVs)
		}
		if len(b) < 2 {
			return nil, fmt.Errorf("lldp: TLV header cut short")
		}
		h := binary.BigEndian.Uint16(b[:2])
		typ, l := byte(h>>9), int(h&0x1ff)
		if len(b) < 2+l {
			return nil, fmt.Errorf("lldp: TLV %d of %d bytes, %d left", typ, l, len(b)-2)
		}
		v := b[2 : 2+l]
		b = b[2+l:]
		switch typ {
		case tlvEnd:
			b = nil
		case tlvChassisID:
			s, err := idString(v, 4, 5)
			if err != nil {
				return nil, fmt.Errorf("lldp: chassis id: %w", err)
			}
			in.ChassisID, haveChassis = s, true
		case tlvPortID:
			s, err := idString(v, 3, 4)
			if err != nil {
				return nil, fmt.Errorf("lldp: port id: %w", err)
			}
			in.PortID, havePort = s, true
		case tlvTTL:
			if l != 2 {
				return nil, fmt.Errorf("lldp: TTL of %d bytes", l)
			}
			in.TTL = binary.BigEndian.Uint16(v)
		case tlvPortDesc:
			in.PortDescription = text(v)
		case tlvSystemName:
			in.SystemName = text(v)
		case tlvSystemDesc:
			in.SystemDescription = text(v)
		case tlvMgmtAddress:
			// address string length (includes the subtype), subtype, address
			if l < 2 || int(v[0]) < 1 || 1+int(v[0]) > l {
				return nil, fmt.Errorf("lldp: management address TLV malformed")
			}
			if a, ok := netAddr(v[1 : 1+int(v[0])]); ok && len(in.MgmtAddrs) < maxMgmt {
				in.MgmtAddrs = append(in.MgmtAddrs, a)
			}
		}
	}
	if !haveChassis || !havePort {
		return nil, fmt.Errorf("lldp: chassis id or port id TLV missing")
	}
	return &in, nil
}

// idString formats a chassis or port id by its subtype: a MAC as
// aa:bb:cc:dd:ee:ff, a network address as an IP, anything else as text
// when it is printable and as hex when it is not.
func idString(v []byte, macSub, addrSub byte) (string, error) {
	if len(v) < 2 {
		return "", fmt.Errorf("%d bytes", len(v))
	}
	sub, id := v[0], v[1:]
	switch {
	case sub == macSub && len(id) == 6:
		return net.HardwareAddr(id).String(), nil
	case sub == addrSub:
		if a, ok := netAddr(id); ok {
			return a.String(), nil
		}
	}
	return text(id), nil
}

// netAddr reads an IANA address family number followed by the address.
func netAddr(v []byte) (netip.Addr, bool) {
	if len(v) < 1 {
		return netip.Addr{}, false
	}
	switch {
	case v[0] == 1 && len(v) == 5:
		return netip.AddrFrom4([4]byte(v[1:5])), true
	case v[0] == 2 && len(v) == 17:
		return netip.AddrFrom16([16]byte(v[1:17])), true
	}
	return netip.Addr{}, false
}

func text(v []byte) string {
	if !utf8.Valid(v) {
		return hex.EncodeToString(v)
	}
	for _, c := range v {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != 0 {
			return hex.EncodeToString(v)
		}
	}
	// some devices NUL-terminate their strings
	for len(v) > 0 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	return string(v)
}

// Decoder is the passive LLDP decoder.
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "lldp" }

// Decode implements probes.Decoder.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if f.EtherType != probes.EtherTypeLLDP {
		return nil
	}
	in, err := Parse(f.Payload)
	if err != nil {
		return fmt.Errorf("lldp: from %s: %w", f.Src, err)
	}
	o := probes.Observation{Time: f.Time, MAC: f.Src, VLAN: f.VLAN, Probe: "lldp"}
	for _, a := range in.MgmtAddrs {
		if a.Is4() {
			o.IP = a
			break
		}
	}
	add := func(k, v string) {
		if v != "" {
			o.Facts = append(o.Facts, probes.F(k, v))
		}
	}
	add("lldp.chassis_id", in.ChassisID)
	add("lldp.port_id", in.PortID)
	add("lldp.system_name", in.SystemName)
	add("lldp.system_description", in.SystemDescription)
	emit(o)
	return nil
}
