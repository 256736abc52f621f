package lab

import (
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes/camsim"
)

// A spec may define its own profiles; its devices find them before the
// built-in ones, take their ground truth and OUI from them, and the
// profiles file handed to camsim carries exactly the profiles the lab uses.
func TestSpecInlineProfiles(t *testing.T) {
	s, err := ParseSpec([]byte(`
name: generated
profiles:
  - {name: gen-axis, maker: axis, oui: "06:00:2a", http: {server: "Boa/0.94", any_path: "401", realm: x}}
  - {name: gen-unused, maker: bosch}
devices:
  - {name: g1, profile: gen-axis}
  - {name: pc, profile: pc}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	devs := s.Plan()
	if len(devs) != 2 || devs[0].Maker != "axis" || devs[0].MAC.String() != "06:00:2a:c4:00:01" || devs[1].Profile != "pc" {
		t.Fatalf("plan %+v", devs)
	}
	data, err := s.profilesFile()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := camsim.ParseProfiles(data, "written")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "gen-axis" || ps[0].HTTP.AnyPath != "401" || ps[1].Name != "pc" {
		t.Errorf("profiles file holds %+v", ps)
	}
	// A spec without profiles of its own hands camsim no file.
	if data, err := (&Spec{Devices: []SpecDevice{{Profile: "pc"}}}).profilesFile(); data != nil || err != nil {
		t.Errorf("built-in spec: profiles file %q, %v", data, err)
	}
	for _, bad := range []string{
		"profiles: [{name: a}, {name: a}]\ndevices: [{profile: a}]",
		"profiles: [{maker: x}]\ndevices: [{profile: pc}]",
		"profiles: [{name: a, oui: zz}]\ndevices: [{profile: a}]",
		"profiles: [{name: a, nope: 1}]\ndevices: [{profile: a}]",
	} {
		if _, err := ParseSpec([]byte(bad), "bad"); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestSpecInlineProfileBadOUI(t *testing.T) {
	_, err := ParseSpec([]byte("profiles: [{name: a, oui: zz}]\ndevices: [{profile: a}]"), "bad")
	if err == nil || !strings.Contains(err.Error(), "oui") {
		t.Errorf("bad OUI: %v", err)
	}
}
