//go:build !linux

package udpdisc

import "syscall"

// reuseAddr is a no-op off Linux: the appliance only runs on Linux, and a
// second listener elsewhere just fails to bind.
func reuseAddr(_, _ string, _ syscall.RawConn) error { return nil }
