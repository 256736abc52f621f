package dhcp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// DefaultParams is the parameter request list of BusyBox udhcpc, the client
// in most camera firmware: subnet mask, router, DNS, hostname, domain name,
// broadcast address, NTP servers.
var DefaultParams = []byte{1, 3, 6, 12, 15, 28, 42}

// Client is what a booting device puts in its DISCOVER/REQUEST.
type Client struct {
	MAC         net.HardwareAddr
	XID         uint32
	Hostname    string     // option 12; omitted when ""
	VendorClass string     // option 60; omitted when ""
	Params      []byte     // option 55; DefaultParams when nil
	RequestedIP netip.Addr // option 50, for an INIT-REBOOT REQUEST
}

// Message builds a BOOTREQUEST of DHCP type typ (Discover, Request, ...)
// with the fields and options in the order BusyBox udhcpc sends them
// (broadcast flag clear, as udhcpc without -B).
func (c Client) Message(typ byte) ([]byte, error) {
	if len(c.MAC) != 6 {
		return nil, fmt.Errorf("dhcp: client MAC must be 6 bytes")
	}
	if len(c.Hostname) > 255 || len(c.VendorClass) > 255 {
		return nil, fmt.Errorf("dhcp: hostname or vendor class longer than 255 bytes")
	}
	b := make([]byte, headerLen, 548)
	b[0], b[1], b[2] = BootRequest, 1, 6
	binary.BigEndian.PutUint32(b[4:8], c.XID)
	copy(b[28:34], c.MAC)
	b = append(b, magic...)
	opt := func(code byte, v []byte) { b = append(append(b, code, byte(len(v))), v...) }
	opt(OptMessageType, []byte{typ})
	if typ == Request && c.RequestedIP.Is4() {
		a := c.RequestedIP.As4()
		opt(OptRequestedIP, a[:])
	}
	opt(OptMaxSize, []byte{0x02, 0x40}) // 576
	params := c.Params
	if params == nil {
		params = DefaultParams
	}
	opt(OptParams, params)
	if c.Hostname != "" {
		opt(OptHostname, []byte(c.Hostname))
	}
	if c.VendorClass != "" {
		opt(OptVendorClass, []byte(c.VendorClass))
	}
	opt(OptClientID, append([]byte{1}, c.MAC...))
	b = append(b, optEnd)
	// udhcpc pads to the 300-byte BOOTP minimum some servers insist on
	for len(b) < 300 {
		b = append(b, 0)
	}
	return b, nil
}

// ClientFrame wraps a client message in the broadcast Ethernet/IPv4/UDP frame
// a client without an address sends: 0.0.0.0:68 to 255.255.255.255:67.
func ClientFrame(src net.HardwareAddr, msg []byte) ([]byte, error) {
	if len(src) != 6 {
		return nil, fmt.Errorf("dhcp: source MAC must be 6 bytes")
	}
	if len(msg) > maxMessage-28 {
		return nil, fmt.Errorf("dhcp: message of %d bytes does not fit a frame", len(msg))
	}
	f := make([]byte, 14+20+8+len(msg))
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:14], 0x0800)
	ip := f[14:34]
	ip[0] = 0x45
	ip[1] = 0x10 // udhcpc asks for low delay
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+8+len(msg)))
	ip[8] = 64
	ip[9] = 17
	copy(ip[16:20], []byte{255, 255, 255, 255})
	binary.BigEndian.PutUint16(ip[10:12], checksum(ip, 0))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:2], 68)
	binary.BigEndian.PutUint16(udp[2:4], 67)
	binary.BigEndian.PutUint16(udp[4:6], uint16(8+len(msg)))
	copy(f[42:], msg)
	// UDP checksum over the pseudo header (source 0.0.0.0 adds nothing)
	pseudo := uint32(0xffff) + uint32(0xffff) + 17 + uint32(8+len(msg))
	cs := checksum(f[34:], pseudo)
	if cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:8], cs)
	return f, nil
}

func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
