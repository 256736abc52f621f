package dhip_test

import (
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/dhip"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest/labdisc"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLabMulticastDiscovery proves discovery over the real group address
// between two namespaces: the search goes to 239.255.255.251, the camera
// answers the asker directly, and two cameras are told apart.
func TestLabMulticastDiscovery(t *testing.T) {
	n := labtest.Net(t, "cwtudh")
	app := labtest.Host(t, n, "app", 2, nil)
	type cam struct {
		ip  netip.Addr
		mac string
	}
	var cams []cam
	for i, vendor := range []string{"General", "Lorex"} {
		mac := net.HardwareAddr{0x3c, 0xef, 0x8c, 0xc4, 0, byte(i + 1)}
		h := labtest.Host(t, n, "cam"+vendor[:1], 10+i, mac)
		cams = append(cams, cam{h.Addr.Addr(), mac.String()})
		rep := dahuaReply()
		rep.MAC, rep.Vendor, rep.IPv4Address = mac.String(), vendor, h.Addr.Addr().String()
		labdisc.ServeIn(t, h, func(ifi *net.Interface) (net.PacketConn, error) {
			return dhip.ListenGroup(ifi, dhip.Group, dhip.Port)
		}, (&dhip.Responder{Reply: rep}).Serve)
	}

	obs := labdisc.Discover(t, app, &dhip.Discoverer{Timeout: time.Second})
	if len(obs) != 2 {
		t.Fatalf("want two observations (two sends deduplicated), got %d: %+v", len(obs), obs)
	}
	byIP := map[netip.Addr]probes.Observation{}
	for _, o := range obs {
		byIP[o.IP] = o
	}
	for i, c := range cams {
		o, ok := byIP[c.ip]
		m := udpdisctest.FactMap(o.Facts)
		if !ok || o.MAC != nil || m["dhip.mac"] != c.mac || m["dhip.ipv4"] != c.ip.String() || m["dhip.vendor"] != []string{"General", "Lorex"}[i] {
			t.Errorf("camera %v: %+v", c, o)
		}
	}
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
