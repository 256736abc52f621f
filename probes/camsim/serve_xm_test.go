package camsim

import (
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/xm"
)

func TestServeXM(t *testing.T) {
	full, err := Lookup("xiongmai")
	if err != nil {
		t.Fatal(err)
	}
	p := Profile{Name: full.Name, OUI: full.OUI, XM: full.XM}
	if !p.XM {
		t.Fatal("the xiongmai profile should run NetSurveillance")
	}
	h := runOnly(t, p, xm.Port)
	m := probeUntil(t, &xm.Prober{Port: h.Port(xm.Port), Timeout: 500 * time.Millisecond}, probes.Target{IP: h.IP})
	if len(m) != 1 || m["xm.netsurveillance"] != "open" {
		t.Errorf("facts %v", m)
	}
}
