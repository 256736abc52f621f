package probes

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits shared by every probe, so a hostile device cannot make the appliance
// store or forward unbounded data.
const (
	MaxFactKey   = 64   // bytes in a fact key
	MaxFactValue = 512  // bytes in a fact value; longer values are cut on a rune boundary
	MaxFacts     = 128  // facts in one Observation
	MaxPayload   = 9216 // bytes of one datagram/frame payload a decoder will look at (jumbo frame)
)

// Fact is one raw claim a probe observed, such as sadp.model=DS-2CD2385G1-I.
type Fact struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// F builds a Fact with the value cleaned: control characters dropped, invalid
// UTF-8 replaced, white space trimmed and the length capped at MaxFactValue.
func F(key, value string) Fact {
	return Fact{Key: key, Value: Clean(value)}
}

// Clean makes a device-supplied string safe to store, log and display.
func Clean(s string) string {
	if len(s) > 4*MaxFactValue {
		s = s[:4*MaxFactValue]
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteRune('\uFFFD')
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			// drop other control characters: they could rewrite a terminal
		default:
			if b.Len()+utf8.RuneLen(r) > MaxFactValue {
				return strings.TrimSpace(b.String())
			}
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// Observation is what one probe learned about one device at one time.
// MAC may be nil when an active probe only knows the IP; the inventory then
// resolves the MAC from what it learned earlier (ARP, DHCP, the neighbour table).
type Observation struct {
	Time  time.Time
	MAC   net.HardwareAddr
	IP    netip.Addr
	VLAN  uint16 // 802.1Q VLAN id the frame carried, 0 when untagged
	Probe string // name of the probe that produced it: "arp", "sadp", "http", ...
	Facts []Fact
	// Passive is set by capture for what a device said on the wire unasked
	// (or to someone else), as opposed to an answer to our own probe.
	Passive bool
	// Key names a device that has no MAC on this link: a camera behind a
	// recorder is "{recorder mac}/ch{n}" (ChannelKey). With Key set, MAC
	// and IP are ignored: the camera's address is on the recorder's own
	// network and must not be confused with this link's.
	Key string
}

// ChannelKey is the identity of the camera on channel n of the recorder
// whose MAC is nvr.
func ChannelKey(nvr net.HardwareAddr, n int) string {
	return nvr.String() + "/ch" + strconv.Itoa(n)
}

// ParseChannelKey splits a ChannelKey; ok is false for anything else.
func ParseChannelKey(key string) (nvr string, n int, ok bool) {
	mac, ch, found := strings.Cut(key, "/ch")
	if !found || len(key) > 40 {
		return "", 0, false
	}
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || hw.String() != mac {
		return "", 0, false
	}
	n, err = strconv.Atoi(ch)
	if err != nil || n < 0 || n > 99999 || strconv.Itoa(n) != ch {
		return "", 0, false
	}
	return mac, n, true
}

// Sink receives observations. It must be safe for concurrent use and must not
// block for long: probes call it from their read loops.
type Sink func(Observation)

// Frame is a captured Ethernet frame, decoded by the capture layer down to the
// transport so that each Decoder only looks at what concerns it.
type Frame struct {
	Time      time.Time
	Src, Dst  net.HardwareAddr
	VLAN      uint16 // 0 when untagged
	EtherType uint16 // after any 802.1Q tag
	SrcIP     netip.Addr
	DstIP     netip.Addr
	IPProto   uint8 // 6 TCP, 17 UDP, 58 ICMPv6; 0 for non-IP
	SrcPort   uint16
	DstPort   uint16
	// Payload is the transport payload for UDP/TCP, the ICMPv6 message for
	// ICMPv6, and the bytes after the Ethernet (and VLAN) header otherwise
	// (ARP, LLDP). It is only valid during the Decode call.
	Payload []byte
}

// Well-known EtherTypes and IP protocol numbers the decoders match on.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
	EtherTypeLLDP = 0x88cc
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoICMPv6   = 58
)

// UDPPort reports whether f is UDP to or from port p.
func (f *Frame) UDPPort(p uint16) bool {
	return f.IPProto == ProtoUDP && (f.SrcPort == p || f.DstPort == p)
}

// Decoder is a passive decoder: it reads captured frames and emits facts about
// the sender. Decode returns nil for frames that are not its business, and an
// error (never a panic) for frames that are its business but malformed.
type Decoder interface {
	Name() string
	Decode(f *Frame, emit Sink) error
}

// Target is a host an active Prober is aimed at.
type Target struct {
	MAC net.HardwareAddr
	IP  netip.Addr
	// Facts already known about the host (ports, XAddrs, LOCATION URLs) that
	// let a prober go straight to the right place. Read-only.
	Facts []Fact
}

// Lookup returns the first value of key among the target's known facts.
func (t Target) Lookup(key string) (string, bool) {
	for _, f := range t.Facts {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Prober asks one host a question over the network. It must respect ctx, bound
// what it reads, and emit what it learned even when later steps fail.
type Prober interface {
	Name() string
	Probe(ctx context.Context, t Target, emit Sink) error
}

// Link is the network an appliance watches: one interface (or 802.1Q
// sub-interface) with its address and the subnets it may probe.
type Link struct {
	Iface   *net.Interface
	Addr    netip.Addr     // the appliance's own IPv4 address on the link
	Subnets []netip.Prefix // what active probing may reach; never empty for active work
}

// Discoverer asks a whole link at once (ARP sweep, multicast discovery) and
// emits an observation for each device that answers before ctx ends.
type Discoverer interface {
	Name() string
	Discover(ctx context.Context, l Link, emit Sink) error
}
