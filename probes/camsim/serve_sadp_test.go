package camsim

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/sadp"
)

// runOnly runs profile p on loopback with a fresh port offset free for
// ports, and stops it when the test ends.
func runOnly(t *testing.T, p Profile, ports ...int) Host {
	t.Helper()
	h := Host{IP: netip.MustParseAddr("127.0.0.1"), MAC: p.MAC(1), PortOffset: freeOffset(t, ports...)}
	stop := Start(p, h, nil)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("camsim: %v", err)
		}
	})
	return h
}

// probeUntil retries probe (services start asynchronously) for up to 2s.
func probeUntil(t *testing.T, pr probes.Prober, tg probes.Target) map[string]string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var mu sync.Mutex
		m := map[string]string{}
		err := pr.Probe(context.Background(), tg, func(o probes.Observation) {
			mu.Lock()
			defer mu.Unlock()
			for _, f := range o.Facts {
				if _, ok := m[f.Key]; !ok {
					m[f.Key] = f.Value
				}
			}
		})
		if err == nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("probe %s: %v", pr.Name(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeSADPProfiles(t *testing.T) {
	for _, name := range []string{"hikvision", "ezviz"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			full, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			p := Profile{Name: full.Name, Model: full.Model, Serial: full.Serial, Firmware: full.Firmware, OUI: full.OUI, SADP: full.SADP}
			h := runOnly(t, p, sadp.Port)
			m := probeUntil(t, &sadp.Prober{Port: h.Port(sadp.Port), Timeout: 500 * time.Millisecond}, probes.Target{IP: h.IP})
			if m["sadp.model"] != full.Model || m["sadp.firmware"] != full.Firmware || m["sadp.activated"] != "true" || m["sadp.device_type"] != full.SADP.DeviceType {
				t.Errorf("facts %v", m)
			}
			if full.SADP.HideMAC {
				if _, ok := m["sadp.mac"]; ok {
					t.Errorf("hide_mac profile sent its MAC: %v", m)
				}
				if m["sadp.serial"] != full.Model+full.Serial {
					t.Errorf("serial %q", m["sadp.serial"])
				}
			} else if m["sadp.mac"] != h.MAC.String() || m["sadp.serial"] != full.Serial {
				t.Errorf("mac/serial %v", m)
			}
		})
	}
}
