package udpdisc

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reuseAddr lets several sockets bind one discovery port, as several
// discovery tools on one host (or camsim devices sharing a namespace) must.
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// recvErr sets IP_RECVERR, so that an ICMP port unreachable answering a
// datagram sent from this unconnected socket is reported by its next read
// as syscall.ECONNREFUSED (without it only connected sockets hear of it,
// and a connected socket would drop answers from another source port,
// which devices send).
func recvErr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVERR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
