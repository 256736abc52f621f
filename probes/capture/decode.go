package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// Packet is one captured Ethernet frame as a source delivers it.
type Packet struct {
	// Data is the frame from the destination MAC on. It is only valid until
	// the next ReadPacket on the same source.
	Data []byte
	Time time.Time
	// VLAN is the 802.1Q VLAN id the kernel stripped into metadata (0 when
	// untagged or unknown). A tag still present in Data wins over it.
	VLAN uint16
}

// ErrTruncated is returned (wrapped) by Decode when a header is cut short.
var ErrTruncated = errors.New("truncated")

// maxTags bounds how many stacked 802.1Q/802.1ad tags Decode walks.
const maxTags = 2

// maxExtHeaders bounds how many IPv6 extension headers Decode walks.
const maxExtHeaders = 4

// Decode parses an Ethernet frame down to its transport payload. It fills
// every field of f; f.Src and f.Dst are fresh copies a decoder may keep,
// f.Payload aliases p.Data. A frame whose IP or transport header is cut short
// is an error; an unknown EtherType or IP protocol is not (the payload is then
// what follows the header Decode understood).
func Decode(p Packet, f *probes.Frame) error {
	d := p.Data
	*f = probes.Frame{Time: p.Time, VLAN: p.VLAN}
	if len(d) < ethLen {
		return fmt.Errorf("ethernet: %d bytes: %w", len(d), ErrTruncated)
	}
	macs := make([]byte, 12)
	copy(macs, d[:12])
	f.Dst, f.Src = macs[0:6:6], macs[6:12:12]
	et := binary.BigEndian.Uint16(d[12:14])
	off := ethLen
	for i := 0; i < maxTags && (et == etVLAN || et == etQinQ); i++ {
		if len(d) < off+vlanLen {
			return fmt.Errorf("802.1Q tag: %w", ErrTruncated)
		}
		if i == 0 {
			// the outer tag is the VLAN of the link we watch
			f.VLAN = binary.BigEndian.Uint16(d[off:off+2]) & 0x0fff
		}
		et = binary.BigEndian.Uint16(d[off+2 : off+4])
		off += vlanLen
	}
	f.EtherType = et
	l3 := d[off:]
	switch et {
	case etIPv4:
		return decodeIPv4(l3, f)
	case etIPv6:
		return decodeIPv6(l3, f)
	default:
		f.Payload = capPayload(l3)
		return nil
	}
}

func capPayload(b []byte) []byte {
	if len(b) > probes.MaxPayload {
		return b[:probes.MaxPayload]
	}
	return b
}

func decodeIPv4(b []byte, f *probes.Frame) error {
	if len(b) < 20 {
		return fmt.Errorf("ipv4: %d bytes: %w", len(b), ErrTruncated)
	}
	if b[0]>>4 != 4 {
		return fmt.Errorf("ipv4: version %d", b[0]>>4)
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl {
		return fmt.Errorf("ipv4: header length %d, total length %d", ihl, total)
	}
	if len(b) < ihl {
		return fmt.Errorf("ipv4: options: %w", ErrTruncated)
	}
	// Ethernet pads short frames; the IP total length says where data ends.
	// A total beyond what was captured (snap length) keeps what we have.
	if total < len(b) {
		b = b[:total]
	}
	f.SrcIP = netip.AddrFrom4([4]byte(b[12:16]))
	f.DstIP = netip.AddrFrom4([4]byte(b[16:20]))
	f.IPProto = b[9]
	if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
		// a later fragment: no transport header to read
		return nil
	}
	return decodeTransport(b[ihl:], f)
}

func decodeIPv6(b []byte, f *probes.Frame) error {
	if len(b) < 40 {
		return fmt.Errorf("ipv6: %d bytes: %w", len(b), ErrTruncated)
	}
	if b[0]>>4 != 6 {
		return fmt.Errorf("ipv6: version %d", b[0]>>4)
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	f.SrcIP = netip.AddrFrom16([16]byte(b[8:24]))
	f.DstIP = netip.AddrFrom16([16]byte(b[24:40]))
	next := b[6]
	b = b[40:]
	if plen < len(b) {
		b = b[:plen]
	}
	for i := 0; i < maxExtHeaders; i++ {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				return fmt.Errorf("ipv6: extension header %d: %w", next, ErrTruncated)
			}
			n := (int(b[1]) + 1) * 8
			if len(b) < n {
				return fmt.Errorf("ipv6: extension header %d: %w", next, ErrTruncated)
			}
			next, b = b[0], b[n:]
			continue
		case 44: // fragment
			if len(b) < 8 {
				return fmt.Errorf("ipv6: fragment header: %w", ErrTruncated)
			}
			fragOff := binary.BigEndian.Uint16(b[2:4]) >> 3
			next, b = b[0], b[8:]
			if fragOff != 0 {
				f.IPProto = next
				return nil
			}
			continue
		}
		break
	}
	f.IPProto = next
	return decodeTransport(b, f)
}

func decodeTransport(b []byte, f *probes.Frame) error {
	switch f.IPProto {
	case probes.ProtoUDP:
		if len(b) < 8 {
			return fmt.Errorf("udp: %d bytes: %w", len(b), ErrTruncated)
		}
		f.SrcPort = binary.BigEndian.Uint16(b[0:2])
		f.DstPort = binary.BigEndian.Uint16(b[2:4])
		ulen := int(binary.BigEndian.Uint16(b[4:6]))
		if ulen != 0 && ulen < 8 {
			return fmt.Errorf("udp: length field %d", ulen)
		}
		b = b[8:]
		if ulen >= 8 && ulen-8 < len(b) {
			b = b[:ulen-8]
		}
		f.Payload = capPayload(b)
	case probes.ProtoTCP:
		if len(b) < 20 {
			return fmt.Errorf("tcp: %d bytes: %w", len(b), ErrTruncated)
		}
		f.SrcPort = binary.BigEndian.Uint16(b[0:2])
		f.DstPort = binary.BigEndian.Uint16(b[2:4])
		doff := int(b[12]>>4) * 4
		if doff < 20 || doff > len(b) {
			return fmt.Errorf("tcp: data offset %d of %d bytes: %w", doff, len(b), ErrTruncated)
		}
		f.Payload = capPayload(b[doff:])
	default:
		f.Payload = capPayload(b)
	}
	return nil
}
