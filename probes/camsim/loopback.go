package camsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"
)

// FreeOffset picks a Host.PortOffset under which every given TCP port is
// free on 127.0.0.1, so loopback tests that run emulated devices side by
// side, or in parallel test binaries, do not collide. Offsets lie in
// [2000, 16000): every service a profile runs (80 up to the SSDP
// description's 49152) then stays between 1024 and 65535, so the tests also
// pass without root (a port past 65535 would wrap into the privileged range).
func FreeOffset(ports ...int) (int, error) {
	for range 50 {
		off := 2000 + rand.IntN(14000)
		ok := true
		for _, p := range ports {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+off))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return off, nil
		}
	}
	return 0, errors.New("camsim: no free port offset in 50 tries")
}

// WaitListening waits until each given TCP port of h (as the profile names
// it, before the offset) accepts a connection on 127.0.0.1, giving each up
// to timeout: Run returns nothing to say its listeners are up.
func WaitListening(h Host, timeout time.Duration, ports ...int) error {
	for _, port := range ports {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(h.Port(port)))
		deadline := time.Now().Add(timeout)
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("camsim: nothing listened on %s within %s: %w", addr, timeout, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}
