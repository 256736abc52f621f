//go:build linux

package arp

import (
	"net"
	"time"

	"github.com/mdlayher/packet"
)

// packetConn is Conn over an AF_PACKET socket bound to EtherType ARP, so the
// kernel hands it nothing but ARP.
type packetConn struct{ c *packet.Conn }

func dialPacket(ifi *net.Interface) (Conn, error) {
	c, err := packet.Listen(ifi, packet.Raw, 0x0806, nil)
	if err != nil {
		return nil, err
	}
	return packetConn{c}, nil
}

func (p packetConn) ReadFrame(b []byte) (int, error) {
	n, _, err := p.c.ReadFrom(b)
	return n, err
}

func (p packetConn) WriteFrame(b []byte) error {
	// On a raw socket the frame carries its own destination; the address
	// only has to be well-formed.
	_, err := p.c.WriteTo(b, &packet.Addr{HardwareAddr: Broadcast})
	return err
}

func (p packetConn) SetReadDeadline(t time.Time) error { return p.c.SetReadDeadline(t) }
func (p packetConn) Close() error                      { return p.c.Close() }
