package classify

import (
	"net"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes"
)

func facts(kv ...string) []probes.Fact {
	var out []probes.Fact
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		out = append(out, probes.F(k, v))
	}
	return out
}

// Identity comes from the strongest source that has it: SADP over ONVIF
// over the name scope, field by field.
func TestIdentityFromStrongestSource(t *testing.T) {
	v := Classify(nil, Input{
		MAC: net.HardwareAddr{0x44, 0x19, 0xb6, 0, 0, 1},
		Facts: facts(
			"wsd.name=HIKVISION", "wsd.hardware=from-wsd",
			"onvif.manufacturer=HIKVISION", "onvif.model=from-onvif", "onvif.serial=serial-onvif", "onvif.firmware=fw-onvif",
			"sadp.seen=reply", "sadp.model=from-sadp", "sadp.firmware=fw-sadp",
		),
	})
	if v.Model != "from-sadp" || v.Firmware != "fw-sadp" || v.Serial != "serial-onvif" {
		t.Errorf("identity = %q/%q/%q, want from-sadp/serial-onvif/fw-sadp", v.Model, v.Serial, v.Firmware)
	}
	if v.Evidence[0].Rule != "hikvision.sadp" {
		t.Errorf("first evidence %s, want the definitive SADP", v.Evidence[0].Rule)
	}
}

func TestExplain(t *testing.T) {
	v := Classify(nil, Input{
		MAC:   net.HardwareAddr{0x44, 0x19, 0xb6, 0, 0, 1},
		Facts: facts("http.realm=AXIS_B8A44F654321", "onvif.manufacturer=AXIS", "onvif.model=M3106-L Mk II"),
	})
	got := Explain(v)
	for _, want := range []string{
		"Maker: axis. Confidence: strong",
		"Reported model M3106-L Mk II.",
		"ONVIF device information, strong (axis)",
		"MAC address registry, weak (against: hikvision)",
		"Conflicting evidence:\n  ! The MAC prefix 44:19:B6",
		"Note: 2 independent probes agree on axis (http, onvif).",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain lacks %q:\n%s", want, got)
		}
	}
	lts := Explain(Classify(nil, Input{Facts: facts("sadp.seen=reply", "onvif.manufacturer=LTS")}))
	if !strings.HasPrefix(lts, "Maker: hikvision, sold as LTS. Confidence: definitive") {
		t.Errorf("OEM explain:\n%s", lts)
	}
	unk := Explain(Classify(nil, Input{MAC: net.HardwareAddr{0x00, 0x13, 0x02, 1, 2, 3}}))
	if !strings.HasPrefix(unk, "Maker: unknown.") || !strings.Contains(unk, `registered to "Intel Corporate"`) {
		t.Errorf("unknown explain:\n%s", unk)
	}
	if got := Explain(Verdict{}); got != "Maker: unknown. No signature names who made this device.\n" {
		t.Errorf("empty verdict: %q", got)
	}
}

// Device-supplied values are shown quoted and cut, so a hostile banner
// cannot forge extra lines in an installer's terminal.
func TestEvidenceQuotesDeviceValues(t *testing.T) {
	v := Classify(nil, Input{Facts: []probes.Fact{{Key: "http.server", Value: "App-webs/\n! forged conflict " + strings.Repeat("x", 300)}}})
	if len(v.Evidence) == 0 {
		t.Fatal("no evidence")
	}
	d := v.Evidence[0].Detail
	if strings.Contains(d, "\n") || len(d) > 400 {
		t.Errorf("detail not quoted/cut: %q", d)
	}
}

// A review names both sides, says no action is taken, and what settles it.
func TestExplainReview(t *testing.T) {
	v := Classify(nil, Input{
		MAC:   net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		Facts: facts("http.server=App-webs/", "rtsp.server=Dahua Rtsp Server"),
	})
	if !v.Undetermined() {
		t.Fatalf("not under review: %+v", v)
	}
	s := Explain(v)
	for _, want := range []string{"undetermined (review)", "dahua or hikvision", "no action is taken",
		"allow-list it", "for: hikvision", "for: dahua"} {
		if !strings.Contains(s, want) {
			t.Errorf("explain lacks %q:\n%s", want, s)
		}
	}
}

// An ambiguous rule leaves the device for review unless stronger evidence
// settles it; it never names its maker on its own.
func TestAmbiguousRule(t *testing.T) {
	extra, err := LoadSignatures([]byte(`schema: 1
signatures:
- id: test.shared-sdk
  when: [{fact: http.server, equals: SharedSDK/1.0}]
  maker: hikvision
  strength: strong
  ambiguous: true
  reason: an SDK web server several makers ship
`))
	if err != nil {
		t.Fatal(err)
	}
	set := Default().Merge(extra)
	v := Classify(set, Input{MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 2}, Facts: facts("http.server=SharedSDK/1.0")})
	if !v.Undetermined() || v.Maker != "" {
		t.Fatalf("ambiguous evidence alone: maker %q, review %q", v.Maker, v.Review)
	}
	v = Classify(set, Input{MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 2},
		Facts: facts("http.server=SharedSDK/1.0", "dhip.seen=reply")})
	if v.Undetermined() || v.Maker != "dahua" {
		t.Fatalf("definitive evidence should settle it: maker %q, review %q", v.Maker, v.Review)
	}
}
