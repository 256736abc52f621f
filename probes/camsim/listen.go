package camsim

import (
	"fmt"
	"net"
	"net/netip"
)

// listenUDP opens a UDP responder's socket for h. On loopback (h.Iface
// empty) every responder binds the same way: unicast on h.IP and its offset
// port, so no test ever sends multicast that could leave through the
// machine's real interface. In the lab each protocol joins its own group or
// binds its own wildcard, so that part is lab's.
func listenUDP(h Host, port int, lab func() (net.PacketConn, error)) (net.PacketConn, error) {
	if h.Iface != "" {
		return lab()
	}
	addr := netip.AddrPortFrom(h.IP, uint16(port))
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return c, nil
}
