package dhip_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/dhip"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLabMulticastDiscovery proves discovery over the real group address
// between two namespaces: the search goes to 239.255.255.251, the camera
// answers the asker directly, and two cameras are told apart.
func TestLabMulticastDiscovery(t *testing.T) {
	n := labtest.Net(t, "cwtvdh")
	app := labtest.Host(t, n, "app", 2, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type cam struct {
		ip  netip.Addr
		mac string
	}
	var cams []cam
	done := make(chan error, 2)
	for i, vendor := range []string{"General", "Lorex"} {
		mac := net.HardwareAddr{0x3c, 0xef, 0x8c, 0xc4, 0, byte(i + 1)}
		h := labtest.Host(t, n, "cam"+vendor[:1], 10+i, mac)
		cams = append(cams, cam{h.Addr.Addr(), mac.String()})
		rep := dahuaReply()
		rep.MAC, rep.Vendor, rep.IPv4Address = mac.String(), vendor, h.Addr.Addr().String()
		var conn net.PacketConn
		if err := h.Do(func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			conn, err = dhip.ListenGroup(ifi, dhip.Group, dhip.Port)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go func() { done <- (&dhip.Responder{Reply: rep}).Serve(ctx, conn) }()
	}
	ifi, err := app.Interface()
	if err != nil {
		t.Fatal(err)
	}
	emit, got := collectObs()
	link := probes.Link{Iface: ifi, Addr: app.Addr.Addr(), Subnets: []netip.Prefix{app.Addr.Masked()}}
	if err := app.Do(func() error {
		return (&dhip.Discoverer{Timeout: time.Second}).Discover(context.Background(), link, emit)
	}); err != nil {
		t.Fatal(err)
	}
	obs := got()
	if len(obs) != 2 {
		t.Fatalf("want two observations (two sends deduplicated), got %d: %+v", len(obs), obs)
	}
	byIP := map[netip.Addr]probes.Observation{}
	for _, o := range obs {
		byIP[o.IP] = o
	}
	for i, c := range cams {
		o, ok := byIP[c.ip]
		if !ok || o.MAC.String() != c.mac || factMap(o.Facts)["dhip.vendor"] != []string{"General", "Lorex"}[i] {
			t.Errorf("camera %v: %+v", c, o)
		}
	}
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
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

func dahuaReply() dhip.Reply {
	b, err := os.ReadFile("testdata/reply-ipc-hdw1431t1-s4.bin")
	if err != nil {
		panic(err)
	}
	r, err := dhip.ParseReply(b)
	if err != nil {
		panic(err)
	}
	return r
}
