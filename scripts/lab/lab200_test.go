package lab_test

import (
	"testing"

	"github.com/camwarden/camwarden/scripts/lab"
)

// lab200 is the survey-scaling lab: it must load, hold 200 hosts with
// distinct MACs and addresses, and fit the /24.
func TestLab200Spec(t *testing.T) {
	s, err := lab.LoadSpec("lab200")
	if err != nil {
		t.Fatal(err)
	}
	devs := s.Plan()
	if len(devs) != 200 {
		t.Fatalf("lab200 has %d devices", len(devs))
	}
	macs, ips := map[string]bool{}, map[string]bool{}
	for _, d := range devs {
		if macs[d.MAC.String()] || ips[d.IP.String()] {
			t.Fatalf("duplicate MAC or IP at %s", d.Name)
		}
		macs[d.MAC.String()], ips[d.IP.String()] = true, true
	}
}
