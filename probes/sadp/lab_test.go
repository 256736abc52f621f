package sadp_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest/labdisc"
	"github.com/camwarden/camwarden/probes/sadp"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLabMulticastDiscovery proves discovery over the real group address
// between two namespaces, with the camera replying to the group as some
// firmware (and camsim in the lab) does, and with IGMP snooping on (the
// prober must join).
func TestLabMulticastDiscovery(t *testing.T) {
	n := labtest.Net(t, "cwtuds")
	if err := n.SetSnooping(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	camMAC := net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0, 1}
	cam := labtest.Host(t, n, "cam", 10, camMAC)
	app := labtest.Host(t, n, "app", 2, nil)

	rep := hikReply()
	rep.MAC = "58-50-ed-c4-00-01"
	rep.IPv4Address = "198.18.1.10"
	labdisc.ServeIn(t, cam, func(ifi *net.Interface) (net.PacketConn, error) {
		conn, err := sadp.ListenGroup(ifi, sadp.Group, sadp.Port)
		if err != nil {
			return nil, err
		}
		return conn, ipv4.NewPacketConn(conn).SetMulticastInterface(ifi)
	}, (&sadp.Responder{Reply: rep, ReplyTo: &net.UDPAddr{IP: sadp.Group, Port: sadp.Port}}).Serve)

	start := time.Now()
	obs := labdisc.Discover(t, app, &sadp.Discoverer{Timeout: 1500 * time.Millisecond})
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("discovery took %v", d)
	}
	if len(obs) != 1 {
		t.Fatalf("want one deduplicated observation, got %d: %+v", len(obs), obs)
	}
	if m := udpdisctest.FactMap(obs[0].Facts); obs[0].IP != cam.Addr.Addr() || obs[0].MAC != nil || m["sadp.model"] != "DS-2CD2385G1-I" || m["sadp.mac"] != camMAC.String() {
		t.Errorf("observation %+v", obs[0])
	}
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
