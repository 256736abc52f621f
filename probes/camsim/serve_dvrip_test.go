package camsim

import (
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/dvrip"
)

func TestServeDVRIP(t *testing.T) {
	full, err := Lookup("dahua")
	if err != nil {
		t.Fatal(err)
	}
	if !full.DVRIP {
		t.Fatal("the dahua profile should answer DVRIP discovery")
	}
	p := Profile{Name: full.Name, Model: full.Model, Serial: full.Serial, OUI: full.OUI, DVRIP: true}
	h := runOnly(t, p, dvrip.Port)
	m := probeUntil(t, &dvrip.Prober{Port: h.Port(dvrip.Port), Timeout: 500 * time.Millisecond}, probes.Target{IP: h.IP})
	if m["dvrip.seen"] != "reply" || m["dvrip.model"] != full.Model || m["dvrip.serial"] != full.Serial || m["dvrip.mac"] != h.MAC.String() {
		t.Errorf("facts %v", m)
	}
}
