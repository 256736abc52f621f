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
