package probetest

import (
	"net"
	"testing"
)

// ServeTCP plays a scripted device for an active prober: it listens on a
// free loopback port until the test ends and runs fn on each connection,
// closing the connection when fn returns. It returns the port. Handlers are
// not waited for at the end: many play devices that stall, and the test
// must not sit out their sleep.
func ServeTCP(t testing.TB, fn func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fn(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// server (camsim, a child process) that opens its own listener, or for a
// prober that must find the port closed.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
