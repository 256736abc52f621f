package dvrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// Protocol constants.
const (
	Port        = 5050
	SearchSize  = 32
	HeaderSize  = 120 // fixed part of a reply
	magicSearch = 0xa3
	magicReply  = 0xb3
	macTextLen  = 17 // "aa:bb:cc:dd:ee:ff"
	maxLines    = 64 // Key:Value lines read from the third section
)

// Errors returned by ParseReply.
var (
	ErrNotReply  = errors.New("dvrip: not a discovery reply")
	ErrTruncated = errors.New("dvrip: truncated reply")
)

// BuildSearch returns the 32-byte discovery request.
func BuildSearch() []byte {
	b := make([]byte, SearchSize)
	b[0], b[1], b[2], b[3] = magicSearch, 0x01, 0x00, 0x01
	b[16] = 0x02
	return b
}

// IsSearch reports whether b is a discovery request.
func IsSearch(b []byte) bool {
	return len(b) >= SearchSize && b[0] == magicSearch && b[1] == 0x01
}

// IsReply reports whether b starts like a discovery reply.
func IsReply(b []byte) bool { return len(b) > 0 && b[0] == magicReply }

// Reply is what a discovery reply says.
type Reply struct {
	DeviceType string     // 16-byte field of the fixed header
	Model      string     // model text after the MAC in the second section, if any
	MAC        string     // MAC text of the second section
	IP         netip.Addr // IPv4 address the device reports (invalid when zero)
	Mask       netip.Addr
	Gateway    netip.Addr
	// Values are the Key:Value lines of the third section, in order.
	Values []KV
}

// KV is one Key:Value line.
type KV struct{ Key, Value string }

// Value returns the first value of key.
func (r Reply) Value(key string) string {
	for _, kv := range r.Values {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// ParseReply parses a discovery reply. The section lengths are read as
// 16-bit little-endian fields (UniversalScanner's current layout); when that
// reading runs past the datagram, the older reading of a one-byte length is
// tried before giving up, since both layouts were published for real devices.
func ParseReply(b []byte) (Reply, error) {
	if !IsReply(b) {
		return Reply{}, ErrNotReply
	}
	if len(b) < HeaderSize {
		return Reply{}, fmt.Errorf("%w: %d bytes, fixed header is %d", ErrTruncated, len(b), HeaderSize)
	}
	s2 := int(binary.LittleEndian.Uint16(b[2:]))
	s3 := int(binary.LittleEndian.Uint16(b[20:]))
	if HeaderSize+s2+s3 > len(b) {
		s2 = int(b[2])
		if HeaderSize+s2+s3 > len(b) {
			return Reply{}, fmt.Errorf("%w: sections of %d and %d bytes declared, %d present", ErrTruncated, s2, s3, len(b)-HeaderSize)
		}
	}
	r := Reply{
		DeviceType: text(b[40:56]),
		IP:         addr(b[56:60]),
		Mask:       addr(b[60:64]),
		Gateway:    addr(b[64:68]),
	}
	sec2 := b[HeaderSize : HeaderSize+s2]
	if len(sec2) >= macTextLen {
		if hw := parseMAC(string(sec2[:macTextLen])); hw != nil {
			r.MAC = hw.String()
			r.Model = text(sec2[macTextLen:])
		}
	}
	sec3 := b[HeaderSize+s2 : HeaderSize+s2+s3]
	for i, line := range strings.FieldsFunc(string(sec3), func(c rune) bool { return c == '\r' || c == '\n' || c == 0 }) {
		if i >= maxLines {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || !printable(k) || !utf8.ValidString(v) {
			continue
		}
		r.Values = append(r.Values, KV{k, v})
	}
	return r, nil
}

// Marshal builds a reply in the layout ParseReply reads.
func (r Reply) Marshal() []byte {
	var sec2 []byte
	if hw := parseMAC(r.MAC); hw != nil {
		sec2 = append([]byte(hw.String()), r.Model...)
	}
	var sec3 bytes.Buffer
	for _, kv := range r.Values {
		sec3.WriteString(kv.Key + ":" + kv.Value + "\r\n")
	}
	b := make([]byte, HeaderSize, HeaderSize+len(sec2)+sec3.Len())
	b[0] = magicReply
	binary.LittleEndian.PutUint16(b[2:], uint16(len(sec2)))
	binary.LittleEndian.PutUint32(b[4:], 0x58)
	binary.LittleEndian.PutUint32(b[16:], 2)
	binary.LittleEndian.PutUint16(b[20:], uint16(sec3.Len()))
	dt := r.DeviceType
	if len(dt) > 15 {
		dt = dt[:15]
	}
	copy(b[40:56], dt)
	for i, a := range []netip.Addr{r.IP, r.Mask, r.Gateway} {
		if a.Is4() {
			v := a.As4()
			copy(b[56+4*i:], v[:])
		}
	}
	b = append(b, sec2...)
	return append(b, sec3.Bytes()...)
}

// HardwareAddr returns the MAC the reply claims, nil when absent. It is the
// device's word, not the sender's address: attribute answers to the frame
// or datagram source.
func (r Reply) HardwareAddr() net.HardwareAddr { return parseMAC(r.MAC) }

// Facts returns the dvrip.* facts, dvrip.seen first.
func (r Reply) Facts() []probes.Fact {
	fs := []probes.Fact{{Key: "dvrip.seen", Value: "reply"}}
	add := func(k, v string) {
		if v = probes.Clean(v); v != "" {
			fs = append(fs, probes.Fact{Key: k, Value: v})
		}
	}
	model := r.Model
	if model == "" {
		model = r.DeviceType
	}
	add("dvrip.model", model)
	add("dvrip.serial", r.Value("SerialNo"))
	// The MAC and address the reply names are the device's claim about
	// itself; they never decide who answered.
	add("dvrip.mac", udpdisc.ClaimedMAC(r.MAC))
	if r.IP.Is4() {
		add("dvrip.ipv4", r.IP.String())
	}
	return fs
}

func parseMAC(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(strings.ReplaceAll(strings.TrimSpace(s), "-", ":"))
	if err != nil || len(hw) != 6 {
		return nil
	}
	return hw
}

// text reads a NUL-terminated field, or "" when it is not printable text: a
// field we cannot read cleanly is better left out than reported garbled.
func text(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	s := strings.TrimSpace(string(b))
	if !utf8.ValidString(s) || !printable(s) {
		return ""
	}
	return s
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func addr(b []byte) netip.Addr {
	a := netip.AddrFrom4([4]byte(b))
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}
