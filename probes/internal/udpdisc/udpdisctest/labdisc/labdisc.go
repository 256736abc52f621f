// Package labdisc runs UDP discovery tests across namespaces of the lab
// (scripts/lab): a device's socket opened inside its namespace, its
// responder served until the test ends, and a Discoverer run from the
// appliance's namespace on the appliance's link.
//
// It is for tests only. It must not open anything outside namespaces the
// test built through scripts/lab/labtest, which skips (or fails under
// CI=true) when the lab cannot be built.
package labdisc

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/scripts/lab"
)

// ListenIn calls listen with h's eth0 inside h's namespace (so the socket
// lives there) and closes the socket when the test ends.
func ListenIn(t testing.TB, h *lab.Host, listen func(ifi *net.Interface) (net.PacketConn, error)) net.PacketConn {
	t.Helper()
	var conn net.PacketConn
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		conn, err = listen(ifi)
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", h.NS, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// ServeIn is ListenIn followed by udpdisctest.Serve: the responder runs on
// the socket until the test ends.
func ServeIn(t testing.TB, h *lab.Host, listen func(ifi *net.Interface) (net.PacketConn, error), serve func(ctx context.Context, conn net.PacketConn) error) {
	t.Helper()
	udpdisctest.Serve(t, ListenIn(t, h, listen), serve)
}

// Link is app's link as the appliance sees it: its eth0, its address and
// its subnet.
func Link(t testing.TB, app *lab.Host) probes.Link {
	t.Helper()
	ifi, err := app.Interface()
	if err != nil {
		t.Fatal(err)
	}
	return probes.Link{Iface: ifi, Addr: app.Addr.Addr(), Subnets: []netip.Prefix{app.Addr.Masked()}}
}

// Discover runs d from app's namespace on app's link and returns what it
// emitted. Sockets are opened synchronously inside Discover, hence in app's
// namespace.
func Discover(t testing.TB, app *lab.Host, d probes.Discoverer) []probes.Observation {
	t.Helper()
	link := Link(t, app)
	emit, got := udpdisctest.Sink()
	if err := app.Do(func() error { return d.Discover(context.Background(), link, emit) }); err != nil {
		t.Fatal(err)
	}
	return got()
}
