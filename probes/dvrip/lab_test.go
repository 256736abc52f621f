package dvrip_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/dvrip"
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
	if err := cam.Do(func() (err error) { conn, err = dvrip.ListenPort(dvrip.Port); return err }); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- (&dvrip.Responder{Reply: dahuaReply()}).Serve(ctx, conn) }()

	ifi, err := app.Interface()
	if err != nil {
		t.Fatal(err)
	}
	emit, got := collectObs()
	link := probes.Link{Iface: ifi, Addr: app.Addr.Addr(), Subnets: []netip.Prefix{app.Addr.Masked()}}
	if err := app.Do(func() error {
		return (&dvrip.Discoverer{Timeout: time.Second}).Discover(context.Background(), link, emit)
	}); err != nil {
		t.Fatal(err)
	}
	obs := got()
	if len(obs) != 1 || obs[0].IP != cam.Addr.Addr() || obs[0].MAC.String() != mac.String() || factMap(obs[0].Facts)["dvrip.serial"] != "6G0ABCD1234567" {
		t.Fatalf("observations %+v", obs)
	}
	if err := (&dvrip.Discoverer{}).Discover(context.Background(), probes.Link{Iface: ifi}, emit); err != dvrip.ErrNoSubnet {
		t.Errorf("no subnets: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func collectObs() (probes.Sink, func() []probes.Observation) {
	var mu sync.Mutex
	var obs []probes.Observation
	return func(o probes.Observation) {
			mu.Lock()
			obs = append(obs, o)
			mu.Unlock()
		}, func() []probes.Observation {
			mu.Lock()
			defer mu.Unlock()
			return append([]probes.Observation(nil), obs...)
		}
}

func factMap(fs []probes.Fact) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		m[f.Key] = f.Value
	}
	return m
}

func dahuaReply() dvrip.Reply {
	b, err := os.ReadFile("testdata/reply-layout-current.bin")
	if err != nil {
		panic(err)
	}
	r, err := dvrip.ParseReply(b)
	if err != nil {
		panic(err)
	}
	return r
}
