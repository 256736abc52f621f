package sadp_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/sadp"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLabMulticastDiscovery proves discovery over the real group address
// between two namespaces, with the camera replying to the group as
// Hikvision firmware does, and with IGMP snooping on (the prober must join).
func TestLabMulticastDiscovery(t *testing.T) {
	n := labtest.Net(t, "cwtvds")
	if err := n.SetSnooping(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	camMAC := net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0, 1}
	cam := labtest.Host(t, n, "cam", 10, camMAC)
	app := labtest.Host(t, n, "app", 2, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep := hikReply()
	rep.MAC = "58-50-ed-c4-00-01"
	rep.IPv4Address = "198.18.1.10"
	var conn net.PacketConn
	err := cam.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		conn, err = sadp.ListenGroup(ifi, sadp.Group, sadp.Port)
		if err != nil {
			return err
		}
		return ipv4.NewPacketConn(conn).SetMulticastInterface(ifi)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan error, 1)
	go func() {
		done <- (&sadp.Responder{Reply: rep, ReplyTo: &net.UDPAddr{IP: sadp.Group, Port: sadp.Port}}).Serve(ctx, conn)
	}()

	ifi, err := app.Interface()
	if err != nil {
		t.Fatal(err)
	}
	emit, got := collectObs()
	link := probes.Link{Iface: ifi, Addr: app.Addr.Addr(), Subnets: []netip.Prefix{app.Addr.Masked()}}
	start := time.Now()
	err = app.Do(func() error {
		return (&sadp.Discoverer{Timeout: 1500 * time.Millisecond}).Discover(context.Background(), link, emit)
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("discovery took %v", d)
	}
	obs := got()
	if len(obs) != 1 {
		t.Fatalf("want one deduplicated observation, got %d: %+v", len(obs), obs)
	}
	if obs[0].IP != cam.Addr.Addr() || obs[0].MAC.String() != camMAC.String() || factMap(obs[0].Facts)["sadp.model"] != "DS-2CD2385G1-I" {
		t.Errorf("observation %+v", obs[0])
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

func hikReply() sadp.Reply {
	b, err := os.ReadFile("testdata/reply-ds-2cd2385g1-i.xml")
	if err != nil {
		panic(err)
	}
	r, err := sadp.ParseReply(b)
	if err != nil {
		panic(err)
	}
	return r
}
