package dvrip

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLabBroadcastDiscovery proves the directed broadcast reaches a device
// in another namespace and its answer is read.
func TestLabBroadcastDiscovery(t *testing.T) {
	n := labtest.Net(t, "cwtvdv")
	app := labtest.Host(t, n, "app", 2, nil)
	mac := net.HardwareAddr{0x3c, 0xef, 0x8c, 0xc4, 0, 1}
	cam := labtest.Host(t, n, "cam", 11, mac)
	var conn net.PacketConn
	if err := cam.Do(func() (err error) { conn, err = ListenPort(Port); return err }); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- (&Responder{Reply: dahuaReply()}).Serve(ctx, conn) }()

	ifi, err := app.Interface()
	if err != nil {
		t.Fatal(err)
	}
	emit, got := collectObs()
	link := probes.Link{Iface: ifi, Addr: app.Addr.Addr(), Subnets: []netip.Prefix{app.Addr.Masked()}}
	if err := app.Do(func() error {
		return (&Discoverer{Timeout: time.Second}).Discover(context.Background(), link, emit)
	}); err != nil {
		t.Fatal(err)
	}
	obs := got()
	if len(obs) != 1 || obs[0].IP != cam.Addr.Addr() || obs[0].MAC.String() != mac.String() || factMap(obs[0].Facts)["dvrip.serial"] != "6G0ABCD1234567" {
		t.Fatalf("observations %+v", obs)
	}
	if err := (&Discoverer{}).Discover(context.Background(), probes.Link{Iface: ifi}, emit); err != ErrNoSubnet {
		t.Errorf("no subnets: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
