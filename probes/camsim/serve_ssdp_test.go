package camsim

import (
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/ssdp"
)

func TestServeSSDPProfiles(t *testing.T) {
	for _, name := range []string{"axis", "printer"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			full, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			// 49152 plus any test offset overflows: move the description
			// server low for the test.
			sp := *full.SSDP
			sp.Port = 9152
			p := Profile{Name: full.Name, Model: full.Model, Serial: full.Serial, OUI: full.OUI, SSDP: &sp}
			h := runOnly(t, p, ssdp.Port, sp.Port)
			pr := &ssdp.Prober{Options: ssdp.Options{Port: h.Port(ssdp.Port), Timeout: 300 * time.Millisecond, Sends: 1}}
			m := probeUntil(t, pr, probes.Target{IP: h.IP})
			want := map[string]string{
				"ssdp.server":       p.Expand(full.SSDP.Server, h.MAC),
				"upnp.manufacturer": full.SSDP.Manufacturer,
				"upnp.model_name":   p.Expand(full.SSDP.ModelName, h.MAC),
				"upnp.serial":       full.Serial,
				"upnp.device_type":  full.SSDP.DeviceType,
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %q, want %q (all %v)", k, m[k], v, m)
				}
			}
		})
	}
}
