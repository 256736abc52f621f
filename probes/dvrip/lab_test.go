package dvrip_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/dvrip"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest/labdisc"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLabBroadcastDiscovery proves the directed broadcast reaches a device
// in another namespace and its answer is read.
func TestLabBroadcastDiscovery(t *testing.T) {
	n := labtest.Net(t, "cwtudv")
	app := labtest.Host(t, n, "app", 2, nil)
	mac := net.HardwareAddr{0x3c, 0xef, 0x8c, 0xc4, 0, 1}
	cam := labtest.Host(t, n, "cam", 11, mac)
	labdisc.ServeIn(t, cam, func(*net.Interface) (net.PacketConn, error) {
		return dvrip.ListenPort(dvrip.Port)
	}, (&dvrip.Responder{Reply: dahuaReply()}).Serve)

	obs := labdisc.Discover(t, app, &dvrip.Discoverer{Timeout: time.Second})
	if len(obs) != 1 || obs[0].IP != cam.Addr.Addr() || obs[0].MAC != nil || udpdisctest.FactMap(obs[0].Facts)["dvrip.serial"] != "6G0ABCD1234567" {
		t.Fatalf("observations %+v", obs)
	}
	emit, _ := udpdisctest.Sink()
	if err := (&dvrip.Discoverer{}).Discover(context.Background(), probes.Link{Iface: labdisc.Link(t, app).Iface}, emit); err != dvrip.ErrNoSubnet {
		t.Errorf("no subnets: %v", err)
	}
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
