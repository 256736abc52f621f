// Package simtest runs camsim device profiles for the loopback tests of the
// active probers. It is apart from probetest because camsim imports the
// probers' packages (for their responders): a prober's in-package test that
// used probetest would otherwise import itself.
package simtest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes/camsim"
)

// Start runs profile p on 127.0.0.1 under a port offset free for ports (as
// the profile names them), waits until they accept connections, and stops
// the emulated device when the test ends, failing t if it stopped badly.
// Probers are then aimed at h.Port(port).
func Start(t testing.TB, p camsim.Profile, ports ...int) (h camsim.Host) {
	t.Helper()
	off, err := camsim.FreeOffset(ports...)
	if err != nil {
		t.Fatal(err)
	}
	h = camsim.Host{IP: netip.MustParseAddr("127.0.0.1"), PortOffset: off}
	stop := camsim.Start(p, h, nil)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	if err := camsim.WaitListening(h, 2*time.Second, ports...); err != nil {
		t.Fatal(err)
	}
	return h
}
