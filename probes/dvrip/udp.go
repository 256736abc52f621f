package dvrip

import (
	"fmt"
	"net"

	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// ListenPort opens a UDP socket on 0.0.0.0:port with address reuse, so it
// receives the broadcasts sent to that port (a device's DVRIP service, or a
// prober catching answers broadcast back to 5050) next to other listeners.
func ListenPort(port int) (net.PacketConn, error) {
	c, err := udpdisc.ListenPort(port)
	if err != nil {
		return nil, fmt.Errorf("dvrip: %w", err)
	}
	return c, nil
}
