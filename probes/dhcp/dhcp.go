package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// BOOTP operations and DHCP message types (RFC 2131, RFC 2132 option 53).
const (
	BootRequest = 1
	BootReply   = 2

	Discover = 1
	Offer    = 2
	Request  = 3
	Decline  = 4
	Ack      = 5
	Nak      = 6
	Release  = 7
	Inform   = 8
)

// Option codes the decoder reads.
const (
	OptHostname     = 12
	OptRequestedIP  = 50
	OptMessageType  = 53
	OptParams       = 55
	OptMaxSize      = 57
	OptVendorClass  = 60
	OptClientID     = 61
	OptFQDN         = 81
	optPad          = 0
	optEnd          = 255
	headerLen       = 236
	maxMessage      = 1500 // nothing larger fits an Ethernet frame unfragmented
	maxOptionsTotal = 64   // distinct options kept from one message
)

var magic = []byte{99, 130, 83, 99}

// ErrNotDHCP is returned for BOOTP messages without the DHCP magic cookie.
var ErrNotDHCP = errors.New("dhcp: no magic cookie (plain BOOTP)")

// Message is the part of a DHCPv4 message the decoder and builder use.
type Message struct {
	Op      byte
	XID     uint32
	Flags   uint16
	CIAddr  netip.Addr
	CHAddr  net.HardwareAddr // only for Ethernet (htype 1, hlen 6); nil otherwise
	Options map[byte][]byte  // concatenated when an option repeats (RFC 3396)
}

// Type returns the option 53 message type, 0 when absent.
func (m *Message) Type() byte {
	if v := m.Options[OptMessageType]; len(v) == 1 {
		return v[0]
	}
	return 0
}

// Parse reads a DHCPv4 message. It walks the options once, bounded by the
// message, and never trusts a length byte beyond it.
func Parse(b []byte) (*Message, error) {
	if len(b) > maxMessage {
		b = b[:maxMessage]
	}
	if len(b) < headerLen+len(magic) {
		if len(b) >= headerLen {
			return nil, ErrNotDHCP
		}
		return nil, fmt.Errorf("dhcp: %d bytes, shorter than the BOOTP header", len(b))
	}
	if string(b[headerLen:headerLen+4]) != string(magic) {
		return nil, ErrNotDHCP
	}
	m := &Message{
		Op:      b[0],
		XID:     binary.BigEndian.Uint32(b[4:8]),
		Flags:   binary.BigEndian.Uint16(b[10:12]),
		CIAddr:  netip.AddrFrom4([4]byte(b[12:16])),
		Options: map[byte][]byte{},
	}
	if m.Op != BootRequest && m.Op != BootReply {
		return nil, fmt.Errorf("dhcp: op %d", m.Op)
	}
	if b[1] == 1 && b[2] == 6 {
		m.CHAddr = append(net.HardwareAddr(nil), b[28:34]...)
	}
	opts := b[headerLen+4:]
	for i := 0; i < len(opts); {
		code := opts[i]
		if code == optPad {
			i++
			continue
		}
		if code == optEnd {
			return m, nil
		}
		if i+1 >= len(opts) {
			return nil, fmt.Errorf("dhcp: option %d: length missing", code)
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			return nil, fmt.Errorf("dhcp: option %d: %d bytes, %d left", code, n, len(opts)-i-2)
		}
		if _, ok := m.Options[code]; !ok && len(m.Options) >= maxOptionsTotal {
			return nil, fmt.Errorf("dhcp: more than %d options", maxOptionsTotal)
		}
		m.Options[code] = append(m.Options[code], opts[i+2:i+2+n]...)
		i += 2 + n
	}
	// Many clients pad the message out after the end option; a missing end
	// option only means the message ran to the end of the datagram.
	return m, nil
}

var typeNames = map[byte]string{
	Discover: "discover", Offer: "offer", Request: "request", Decline: "decline",
	Ack: "ack", Nak: "nak", Release: "release", Inform: "inform",
	9: "forcerenew", 10: "leasequery", 11: "leaseunassigned", 12: "leaseunknown", 13: "leaseactive",
}

// TypeName names a message type as the dhcp.msg fact reports it ("type-N"
// for unknown ones).
func TypeName(t byte) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "type-" + strconv.Itoa(int(t))
}

// Params formats option 55 as comma-separated decimal codes.
func Params(v []byte) string {
	var b strings.Builder
	for i, c := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(c)))
	}
	return b.String()
}

// Fingerprint is the DHCP fingerprint public collections key on: the
// option 55 codes in the client's order, a "|", then the option 60 vendor
// class as sent ("" when absent), e.g. "1,3,6,12,15,28,42|udhcp 1.20.2".
// The order of option 55 comes from the DHCP client's code, not from
// settings, so it names the client software (BusyBox udhcpc, dhcpcd, a
// vendor stack); the vendor class narrows it. The codes never contain "|",
// so the first one splits the two parts.
func Fingerprint(params, vendorClass []byte) string {
	return Params(params) + "|" + string(vendorClass)
}

// FQDN returns the domain name of an option 81 value (RFC 4702): three bytes
// of flags and obsolete RCODEs, then the name, in DNS wire format when the E
// flag is set and ASCII otherwise.
func FQDN(v []byte) (string, error) {
	if len(v) < 3 {
		return "", fmt.Errorf("dhcp: option 81: %d bytes", len(v))
	}
	flags, name := v[0], v[3:]
	if flags&0x04 == 0 {
		return string(name), nil
	}
	var labels []string
	for i := 0; i < len(name); {
		n := int(name[i])
		if n == 0 {
			break
		}
		if n > 63 || i+1+n > len(name) {
			return "", fmt.Errorf("dhcp: option 81: bad label length %d", n)
		}
		labels = append(labels, string(name[i+1:i+1+n]))
		i += 1 + n
	}
	return strings.Join(labels, "."), nil
}
