package camsim

import (
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/dhip"
)

func TestServeDHIPProfiles(t *testing.T) {
	ps, err := Profiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, full := range ps {
		if full.DHIP == nil {
			continue
		}
		t.Run(full.Name, func(t *testing.T) {
			t.Parallel()
			p := Profile{Name: full.Name, Model: full.Model, Serial: full.Serial, Firmware: full.Firmware, OUI: full.OUI, DHIP: full.DHIP}
			h := runOnly(t, p, dhip.Port)
			m := probeUntil(t, &dhip.Prober{Port: h.Port(dhip.Port), Timeout: 500 * time.Millisecond}, probes.Target{IP: h.IP})
			want := map[string]string{
				"dhip.seen": "reply", "dhip.model": full.Model, "dhip.serial": full.Serial, "dhip.firmware": full.Firmware,
				"dhip.vendor": full.DHIP.Vendor, "dhip.class": full.DHIP.DeviceClass, "dhip.mac": h.MAC.String(),
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %q, want %q", k, m[k], v)
				}
			}
		})
	}
}
