package bench

import (
	"encoding/binary"
	"net/netip"
)

// UDPFrame is what the capture counter needs from a frame.
type UDPFrame struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Payload          []byte
}

// ParseUDPFrame reads an untagged (or single 802.1Q-tagged) Ethernet frame
// carrying an unfragmented IPv4 UDP datagram. It never reads past b.
func ParseUDPFrame(b []byte) (UDPFrame, bool) {
	if len(b) < 14 {
		return UDPFrame{}, false
	}
	et := binary.BigEndian.Uint16(b[12:14])
	off := 14
	if et == 0x8100 || et == 0x88a8 {
		if len(b) < 18 {
			return UDPFrame{}, false
		}
		et = binary.BigEndian.Uint16(b[16:18])
		off = 18
	}
	if et != 0x0800 || len(b) < off+20 {
		return UDPFrame{}, false
	}
	ip := b[off:]
	if ip[0]>>4 != 4 {
		return UDPFrame{}, false
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ihl < 20 || total < ihl+8 || total > len(ip) || ip[9] != 17 {
		return UDPFrame{}, false
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 { // fragment
		return UDPFrame{}, false
	}
	udp := ip[ihl:total]
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < 8 || ulen > len(udp) {
		return UDPFrame{}, false
	}
	return UDPFrame{
		Src:     netip.AddrFrom4([4]byte(ip[12:16])),
		Dst:     netip.AddrFrom4([4]byte(ip[16:20])),
		SrcPort: binary.BigEndian.Uint16(udp[0:2]),
		DstPort: binary.BigEndian.Uint16(udp[2:4]),
		Payload: udp[8:ulen],
	}, true
}
