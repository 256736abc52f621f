package dhip_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/dhip"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest/labdisc"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLabChildCamsim is not a test: labdisc.StartCamsim re-runs the test
// binary inside a lab namespace with this test selected.
func TestLabChildCamsim(t *testing.T) { labdisc.CamsimChild(t) }

// A device that comes up after the last sweep is asked by DHIP itself: the
// unicast search, run against camsim's Dahua in the lab, is answered to
// the asker and attributed to the camera's address alone.
func TestLabProberCamsim(t *testing.T) {
	n := labtest.Net(t, "cwtdp")
	full, err := camsim.Lookup("dahua")
	if err != nil {
		t.Fatal(err)
	}
	oui, _ := net.ParseMAC(full.OUI + ":00:00:01")
	mac := net.HardwareAddr{oui[0], oui[1], oui[2], 0xc4, 0x5d, 0x01}
	cam := labtest.Host(t, n, "cam", 10, mac)
	app := labtest.Host(t, n, "app", 2, nil)
	labdisc.StartCamsim(t, cam, "TestLabChildCamsim", "dahua", "dhip")

	target := probes.Target{IP: cam.Addr.Addr(), MAC: mac}
	deadline := time.Now().Add(5 * time.Second)
	for {
		emit, got := udpdisctest.Sink()
		err := app.Do(func() error { return (&dhip.Prober{Timeout: time.Second}).Probe(context.Background(), target, emit) })
		if err == nil {
			obs := got()
			if len(obs) != 1 {
				t.Fatalf("observations %+v", obs)
			}
			m := udpdisctest.FactMap(obs[0].Facts)
			if obs[0].IP != cam.Addr.Addr() || obs[0].MAC != nil || m["dhip.model"] != full.Model || m["dhip.mac"] != mac.String() || m["dhip.ipv4"] != cam.Addr.Addr().String() {
				t.Errorf("observation %+v", obs[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("probe: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
