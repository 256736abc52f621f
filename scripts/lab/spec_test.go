package lab_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/scripts/lab"
)

// The demo lab holds exactly the devices the issue names, in order, so the
// first camera is 198.18.1.10 (the hikvision profile's certificate says so).
func TestDemoSpec(t *testing.T) {
	s, err := lab.LoadSpec("lab")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"hikvision", "hikvision-lts", "ezviz", "dahua", "lorex", "amcrest", "huawei", "axis", "hanwha",
		"bosch", "pc", "printer", "hikvision-wifi", "axis-spoofed", "cpplus", "uniview", "xiongmai", "hikvision-nvr"}
	devs := s.Plan()
	if len(devs) != len(want) {
		t.Fatalf("%d devices, want %d", len(devs), len(want))
	}
	for i, d := range devs {
		if d.Name != want[i] || d.Profile != want[i] {
			t.Errorf("device %d = %s/%s, want %s", i, d.Name, d.Profile, want[i])
		}
		if wantIP := netip.AddrFrom4([4]byte{198, 18, 1, byte(10 + i)}); d.IP != wantIP {
			t.Errorf("%s: ip %s, want %s", d.Name, d.IP, wantIP)
		}
	}
	byName := map[string]lab.Device{}
	for _, d := range devs {
		byName[d.Name] = d
	}
	// Ground truth comes from the profiles.
	if d := byName["hikvision-lts"]; d.Maker != "hikvision" || d.Brand != "LTS" || !d.Flagged {
		t.Errorf("hikvision-lts truth = %+v", d)
	}
	if d := byName["axis-spoofed"]; d.Maker != "axis" || d.Flagged || d.MAC.String() != "44:19:b6:c4:00:01" {
		t.Errorf("axis-spoofed truth = %+v", d)
	}
	if d := byName["pc"]; d.Maker != "" || d.Flagged {
		t.Errorf("pc truth = %+v", d)
	}
}

func TestLab50Spec(t *testing.T) {
	s, err := lab.LoadSpec("lab50.yaml")
	if err != nil {
		t.Fatal(err)
	}
	devs := s.Plan()
	if len(devs) < 50 {
		t.Fatalf("lab50 has %d devices", len(devs))
	}
	names, macs, ips, profiles := map[string]bool{}, map[string]bool{}, map[netip.Addr]bool{}, map[string]int{}
	for _, d := range devs {
		if names[d.Name] || macs[d.MAC.String()] || ips[d.IP] {
			t.Errorf("duplicate name, MAC or IP: %+v", d)
		}
		names[d.Name], macs[d.MAC.String()], ips[d.IP] = true, true, true
		if !lab.CameraNet.Contains(d.IP) || d.IP == lab.GatewayIP || d.IP == lab.ApplianceIP {
			t.Errorf("%s: address %s collides with the lab's own", d.Name, d.IP)
		}
		profiles[d.Profile]++
	}
	if len(profiles) < 15 {
		t.Errorf("lab50 mixes only %d profiles", len(profiles))
	}
	if !names["dahua-8"] || names["dahua"] {
		t.Error("counted devices are not named <profile>-<n>")
	}
	if d := devs[len(devs)-1]; d.Name != "printer-2" || d.MAC.String() != "00:01:e6:c4:00:02" {
		t.Errorf("last device = %s %s", d.Name, d.MAC)
	}
}

func TestSpecErrorsNameTheField(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"devices: []", "devices: empty"},
		{"devices: [{count: 2}]", "devices[0].profile: missing"},
		{"devices: [{profile: nope}]", `devices[0].profile: camsim: no profile "nope"`},
		{"devices: [{profile: pc}, {profile: pc}]", `devices[1].name: duplicate device "pc"`},
		{"devices: [{profile: pc, name: gw}]", `devices[0].name: "gw"`},
		{"devices: [{profile: pc, name: Big_Name}]", `devices[0].name: "Big_Name"`},
		{"devices: [{profile: pc, count: -1}]", "devices[0].count: -1 out of range"},
		{"devices: [{profile: pc, count: 200}, {profile: axis, count: 50}]", "devices[1]: more than 245 devices"},
		{"devices: [{profile: pc, colour: red}]", "field colour not found"},
	} {
		_, err := lab.ParseSpec([]byte(c.yaml), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "t.yaml") {
			t.Errorf("%s: error %v, want it to contain %q and the file name", c.yaml, err, c.want)
		}
	}
	if _, err := lab.LoadSpec("no-such-spec"); err == nil {
		t.Error("LoadSpec of a missing spec succeeded")
	}
}

// Two entries of one profile share its MAC sequence, so MACs never repeat.
func TestSpecMACsCountPerProfile(t *testing.T) {
	s, err := lab.ParseSpec([]byte("devices: [{profile: axis, name: a}, {profile: pc}, {profile: axis, name: b, count: 2}]"), "t")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range s.Plan() {
		got = append(got, d.Name+"="+d.MAC.String())
	}
	want := "a=ac:cc:8e:c4:00:01 pc=00:13:02:c4:00:01 b-1=ac:cc:8e:c4:00:02 b-2=ac:cc:8e:c4:00:03"
	if strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}
}
