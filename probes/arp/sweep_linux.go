//go:build linux

package arp

import (
	"net"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// packetConn is Conn over an AF_PACKET socket bound to EtherType ARP, so the
// kernel hands it nothing but ARP.
type packetConn struct{ c *packet.Conn }

// sweepRcvBuf is the socket's receive buffer: a /24 sweep brings a few
// hundred replies within half a second, and the default buffer (about 200
// small frames' worth) overflowed on a loaded host while the reader
// waited for a CPU, losing devices.
const sweepRcvBuf = 4 << 20

func dialPacket(ifi *net.Interface) (Conn, error) {
	c, err := packet.Listen(ifi, packet.Raw, 0x0806, nil)
	if err != nil {
		return nil, err
	}
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			// Our own requests need not come back to us and take room in
			// the buffer (Linux 4.20+; older kernels just refuse).
			_ = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
			// FORCE works as root (CAP_NET_ADMIN), past rmem_max; else the
			// plain request, capped by rmem_max.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sweepRcvBuf) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, sweepRcvBuf)
			}
		})
	}
	return packetConn{c}, nil
}

// Drops is how many frames the kernel dropped for want of buffer room
// since the last call.
func (p packetConn) Drops() uint64 {
	st, err := p.c.Stats()
	if err != nil {
		return 0
	}
	return uint64(st.Drops)
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
