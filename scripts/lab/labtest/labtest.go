// Package labtest gives tests a namespace lab with the house rule applied:
// without root the test is skipped with the reason, except under CI=true where
// it fails, because CI runs as root and a skipped lab test there hides a
// regression.
package labtest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/scripts/lab"
)

// RequireRoot skips (or fails under CI=true) when labs cannot be built.
func RequireRoot(t testing.TB) {
	t.Helper()
	if err := lab.Check(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: this test needs the namespace lab: %v", err)
		}
		t.Skipf("skipping lab test: %v", err)
	}
}

// RequireBinary skips (or fails under CI=true) when a peer program is missing.
func RequireBinary(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %s is required (make test installs it): %v", path, err)
		}
		t.Skipf("skipping: %s not installed (run make test as root, which installs it)", path)
	}
}

// Net builds a lab bridge with the given prefix and removes it when the test
// ends.
func Net(t testing.TB, prefix string) *lab.Net {
	t.Helper()
	RequireRoot(t)
	n, err := lab.NewNet(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("lab cleanup: %v", err)
		}
	})
	return n
}

// Host adds host number i (1..250) to n with address 198.18.1.i/24 and a
// locally administered MAC unless mac is given.
func Host(t testing.TB, n *lab.Net, name string, i int, mac net.HardwareAddr) *lab.Host {
	t.Helper()
	if mac == nil {
		mac = net.HardwareAddr{0x02, 0xc4, 0x7e, 0x57, 0x00, byte(i)}
	}
	h, err := n.AddHost(context.Background(), name, mac, netip.MustParsePrefix(fmt.Sprintf("198.18.1.%d/24", i)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Capture opens a live capture (no multicast joins: a test sees what its
// peers send it) on h's interface inside h's namespace, so the socket lives
// there; it is closed when the test ends.
func Capture(t testing.TB, h *lab.Host) *capture.Live {
	t.Helper()
	var src *capture.Live
	if err := h.Do(func() error {
		var err error
		src, err = capture.Open(capture.Options{Iface: h.Iface, Groups: []netip.Addr{}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}
