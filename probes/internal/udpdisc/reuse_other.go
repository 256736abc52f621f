//go:build !linux

package udpdisc

import "syscall"

// reuseAddr is a no-op off Linux: the appliance only runs on Linux, and a
// second listener elsewhere just fails to bind.
func reuseAddr(_, _ string, _ syscall.RawConn) error { return nil }

// recvErr is a no-op off Linux: a host that refuses the port is then only
// told apart by its silence.
func recvErr(_, _ string, _ syscall.RawConn) error { return nil }
