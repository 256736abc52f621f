//go:build linux

package capture

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Live is an AF_PACKET capture with the discovery filter in the kernel.
type Live struct {
	conn   *packet.Conn
	raw    syscall.RawConn
	groups net.PacketConn // holds the IGMP memberships; nil when none
	now    func() time.Time
	buf    []byte
	oob    []byte

	mu     sync.Mutex
	stats  Stats
	closed bool
}

// Open starts a live capture on o.Iface: an AF_PACKET socket whose BPF filter
// (Program) is attached before the socket is bound, so not one frame of video
// is queued to user space, plus an IPv4 socket holding the multicast groups.
func Open(o Options) (*Live, error) {
	ifi, err := net.InterfaceByName(o.Iface)
	if err != nil {
		return nil, fmt.Errorf("capture: interface %q: %w", o.Iface, err)
	}
	snap := o.SnapLen
	if snap == 0 {
		snap = DefaultSnapLen
	}
	filter, err := Filter(snap)
	if err != nil {
		return nil, err
	}
	conn, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, &packet.Config{Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("capture: open AF_PACKET on %s: %w", o.Iface, err)
	}
	l := &Live{conn: conn, now: o.Now, buf: make([]byte, snap), oob: make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{}))))}
	if l.now == nil {
		l.now = time.Now
	}
	fail := func(err error) (*Live, error) {
		l.Close()
		return nil, fmt.Errorf("capture: %s: %w", o.Iface, err)
	}
	if l.raw, err = conn.SyscallConn(); err != nil {
		return fail(err)
	}
	var serr error
	err = l.raw.Control(func(fd uintptr) {
		// PACKET_AUXDATA hands us the VLAN tag the kernel strips from the data.
		serr = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_AUXDATA, 1)
		if serr == nil && o.RecvBuffer > 0 {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, o.RecvBuffer)
		}
	})
	if err = errors.Join(err, serr); err != nil {
		return fail(fmt.Errorf("setsockopt: %w", err))
	}
	if o.Promiscuous {
		if err := conn.SetPromiscuous(true); err != nil {
			return fail(fmt.Errorf("promiscuous mode: %w", err))
		}
	}
	groups := o.Groups
	if groups == nil {
		groups = DefaultGroups
	}
	if len(groups) > 0 {
		// Port 0: the socket only exists to hold memberships; it never
		// receives the discovery datagrams (those come through AF_PACKET),
		// and it does not take a port another probe needs.
		pc, err := net.ListenPacket("udp4", "0.0.0.0:0")
		if err != nil {
			return fail(fmt.Errorf("multicast socket: %w", err))
		}
		l.groups = pc
		p := ipv4.NewPacketConn(pc)
		for _, g := range groups {
			if !g.Is4() || !g.IsMulticast() {
				return fail(fmt.Errorf("group %s is not an IPv4 multicast address", g))
			}
			if err := p.JoinGroup(ifi, &net.UDPAddr{IP: g.AsSlice()}); err != nil {
				return fail(fmt.Errorf("join %s: %w", g, err))
			}
		}
	}
	return l, nil
}

// ReadPacket returns the next frame that passed the filter, skipping the
// ones this host sent itself (our own probes are not observations).
func (l *Live) ReadPacket() (Packet, error) {
	for {
		var (
			n, oobn int
			from    unix.Sockaddr
			rerr    error
		)
		err := l.raw.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), l.buf, l.oob, unix.MSG_DONTWAIT)
			return rerr != unix.EAGAIN && rerr != unix.EWOULDBLOCK
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			l.mu.Lock()
			closed := l.closed
			l.mu.Unlock()
			if closed {
				return Packet{}, ErrClosed
			}
			return Packet{}, err
		}
		if sll, ok := from.(*unix.SockaddrLinklayer); ok && sll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		return Packet{Data: l.buf[:n], Time: l.now(), VLAN: auxVLAN(l.oob[:oobn])}, nil
	}
}

// auxVLAN extracts the stripped 802.1Q VLAN id from PACKET_AUXDATA.
func auxVLAN(oob []byte) uint16 {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA {
			continue
		}
		if len(m.Data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			continue
		}
		aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
		if aux.Status&unix.TP_STATUS_VLAN_VALID != 0 {
			return aux.Vlan_tci & 0x0fff
		}
	}
	return 0
}

// SetReadDeadline bounds a blocked ReadPacket.
func (l *Live) SetReadDeadline(t time.Time) error { return l.conn.SetReadDeadline(t) }

// Stats returns the kernel's packet and drop counters since Open. The kernel
// resets them on every read, so they are accumulated here.
func (l *Live) Stats() (Stats, error) {
	s, err := l.conn.Stats()
	if err != nil {
		return Stats{}, fmt.Errorf("capture: stats: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.Packets += uint64(s.Packets)
	l.stats.Drops += uint64(s.Drops)
	return l.stats, nil
}

// Close stops the capture, leaves the multicast groups and drops
// promiscuous mode (the kernel undoes both when the sockets close).
func (l *Live) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	var errs []error
	if l.groups != nil {
		errs = append(errs, l.groups.Close())
	}
	errs = append(errs, l.conn.Close())
	return errors.Join(errs...)
}
