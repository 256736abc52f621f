package ssdp

import (
	"fmt"
	"net"

	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// ListenGroup opens a UDP socket on port with address reuse (several
// listeners may share the port on one host), joined to group on ifi. With
// ifi nil the kernel picks the interface.
func ListenGroup(ifi *net.Interface, group net.IP, port int) (net.PacketConn, error) {
	c, err := udpdisc.ListenGroup(ifi, group, port)
	if err != nil {
		return nil, fmt.Errorf("ssdp: %w", err)
	}
	return c, nil
}
