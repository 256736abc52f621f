package camsim

import "testing"

func TestProfilesLoad(t *testing.T) {
	ps, err := Profiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 12 {
		t.Fatalf("want at least the 12 lab devices of the foundation issue, have %d", len(ps))
	}
	for _, p := range ps {
		mac := p.MAC(1)
		if p.OUI == "" && mac[0]&0x02 == 0 {
			t.Errorf("%s: no OUI but MAC %s is not locally administered", p.Name, mac)
		}
		if p.Flagged && p.Maker == "" && len(p.Components) == 0 {
			t.Errorf("%s: flagged without a maker or a restricted component", p.Name)
		}
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("Lookup of an unknown profile succeeded")
	}
}
