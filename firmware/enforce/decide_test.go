package enforce

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes/classify"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func verdict(maker string, c classify.Confidence) classify.Verdict {
	return classify.Verdict{Maker: maker, Confidence: c}
}

func TestDecideTable(t *testing.T) {
	isolateHik := DefaultPolicy()
	isolateHik.Actions = map[string]Action{"hikvision": ActionIsolate, "hisilicon": ActionIsolate}
	strictDef := isolateHik
	strictDef.MinIsolate = classify.Definitive
	lax := isolateHik
	lax.MinIsolate = classify.Weak // must not let weak evidence cut
	allow := func(a ...Allow) Policy { p := isolateHik; p.AllowList = a; return p }
	mac := "44:19:b6:00:00:01"

	for _, tc := range []struct {
		name   string
		p      Policy
		d      Device
		flag   bool
		action Action
		reason string
	}{
		{"unknown maker", isolateHik, Device{MAC: mac, Verdict: verdict("", classify.None)}, false, "", ""},
		{"axis not flagged", isolateHik, Device{MAC: mac, Verdict: verdict("axis", classify.Definitive)}, false, "", ""},
		{"no confidence no flag", isolateHik, Device{MAC: mac, Verdict: verdict("hikvision", classify.None)}, false, "", ""},
		{"dahua default alert", isolateHik, Device{MAC: mac, Verdict: verdict("dahua", classify.Definitive)}, true, ActionAlert, "policy: alert"},
		{"hik weak alert only", isolateHik, Device{MAC: mac, Verdict: verdict("hikvision", classify.Weak)}, true, ActionAlert, "needs strong"},
		{"hik strong isolate", isolateHik, Device{MAC: mac, Verdict: verdict("hikvision", classify.Strong)}, true, ActionIsolate, "policy: isolate"},
		{"hik definitive isolate", isolateHik, Device{MAC: mac, Verdict: verdict("hikvision", classify.Definitive)}, true, ActionIsolate, ""},
		{"maker case folded", isolateHik, Device{MAC: mac, Verdict: verdict("HikVision", classify.Strong)}, true, ActionIsolate, "maker hikvision"},
		{"strict: strong alerts", strictDef, Device{MAC: mac, Verdict: verdict("hikvision", classify.Strong)}, true, ActionAlert, "needs definitive"},
		{"strict: definitive isolates", strictDef, Device{MAC: mac, Verdict: verdict("hikvision", classify.Definitive)}, true, ActionIsolate, ""},
		{"lax policy: weak still never cuts", lax, Device{MAC: mac, Verdict: verdict("hikvision", classify.Weak)}, true, ActionAlert, "needs strong"},
		{"lax policy: strong cuts", lax, Device{MAC: mac, Verdict: verdict("hikvision", classify.Strong)}, true, ActionIsolate, ""},
		{"OEM relabel flagged by maker", isolateHik,
			Device{MAC: mac, Verdict: classify.Verdict{Maker: "hikvision", Brand: "LTS", Confidence: classify.Definitive}},
			true, ActionIsolate, "sold as LTS"},
		{"brand alone never flags", isolateHik,
			Device{MAC: mac, Verdict: classify.Verdict{Maker: "", Brand: "hikvision", Confidence: classify.Strong}}, false, "", ""},
		{"component flags other maker", isolateHik,
			Device{MAC: mac, Verdict: classify.Verdict{Maker: "acme", Components: []string{"HiSilicon"}, Confidence: classify.Strong}},
			true, ActionIsolate, "component hisilicon"},
		{"component with weak confidence alerts", isolateHik,
			Device{MAC: mac, Verdict: classify.Verdict{Maker: "acme", Components: []string{"hisilicon"}, Confidence: classify.Weak}},
			true, ActionAlert, ""},
		{"allow by MAC, other notation", allow(Allow{MAC: "44-19-B6-00-00-01", Reason: "evidence camera"}),
			Device{MAC: mac, Verdict: verdict("hikvision", classify.Definitive)}, true, ActionAllowed, "evidence camera"},
		{"allow by serial from verdict", allow(Allow{Serial: "ds-2cd2385g1-i20190101aawr123", Reason: "pending swap"}),
			Device{MAC: mac, Verdict: classify.Verdict{Maker: "hikvision", Serial: "DS-2CD2385G1-I20190101AAWR123", Confidence: classify.Definitive}},
			true, ActionAllowed, "serial"},
		{"allow by serial from device", allow(Allow{Serial: "X1", Reason: "r"}),
			Device{MAC: mac, Serial: "X1", Verdict: verdict("hikvision", classify.Definitive)}, true, ActionAllowed, ""},
		{"allow not yet expired", allow(Allow{MAC: mac, Reason: "r", Expires: t0.Add(time.Second)}),
			Device{MAC: mac, Verdict: verdict("hikvision", classify.Strong)}, true, ActionAllowed, ""},
		{"allow expired at instant", allow(Allow{MAC: mac, Reason: "r", Expires: t0}),
			Device{MAC: mac, Verdict: verdict("hikvision", classify.Strong)}, true, ActionIsolate, ""},
		{"allow other MAC", allow(Allow{MAC: "44:19:b6:00:00:02", Reason: "r"}),
			Device{MAC: mac, Verdict: verdict("hikvision", classify.Strong)}, true, ActionIsolate, ""},
		{"empty serial never matches", allow(Allow{Serial: "", MAC: "00:00:00:00:00:09", Reason: "r"}),
			Device{MAC: mac, Verdict: verdict("hikvision", classify.Strong)}, true, ActionIsolate, ""},
		{"maker not in list", Policy{FlaggedMakers: []string{"zte"}, Actions: map[string]Action{"hikvision": ActionIsolate}},
			Device{MAC: mac, Verdict: verdict("hikvision", classify.Definitive)}, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.p, tc.d, t0)
			if got.Flagged != tc.flag || got.Action != tc.action {
				t.Fatalf("Decide = %+v, want flagged=%v action=%q", got, tc.flag, tc.action)
			}
			if tc.reason != "" && !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", got.Reason, tc.reason)
			}
		})
	}
}

// Every maker x action x confidence: isolation happens exactly when the
// policy says isolate and the confidence is at least strong.
func TestDecideCrossProduct(t *testing.T) {
	for _, maker := range DefaultFlaggedMakers {
		for _, act := range []Action{ActionAlert, ActionIsolate} {
			for c := classify.None; c <= classify.Definitive; c++ {
				p := DefaultPolicy()
				p.Actions = map[string]Action{maker: act}
				got := Decide(p, Device{MAC: "02:00:00:00:00:01", Verdict: verdict(maker, c)}, t0)
				want := ActionNone
				switch {
				case c == classify.None:
				case act == ActionIsolate && c >= classify.Strong:
					want = ActionIsolate
				default:
					want = ActionAlert
				}
				if got.Action != want {
					t.Errorf("%s %s %s: got %q want %q", maker, act, c, got.Action, want)
				}
			}
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{Actions: map[string]Action{"zte": "nuke"}}, "actions[zte]"},
		{Policy{AllowList: []Allow{{Reason: "x"}}}, "allow_list[0]"},
		{Policy{AllowList: []Allow{{MAC: "nope"}}}, "allow_list[0].mac"},
		{Policy{HoldTime: -1}, "hold_time"},
	} {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want mention of %s", tc.p, err, tc.want)
		}
	}
	if err := DefaultPolicy().Validate(); err != nil {
		t.Error(err)
	}
	if _, err := ParseAction("Isolate"); err != nil {
		t.Error(err)
	}
	if _, err := ParseAction("allowed"); err == nil {
		t.Error("allowed is not a policy action")
	}
}

func ExampleDecide() {
	p := DefaultPolicy()
	p.Actions["hikvision"] = ActionIsolate
	// A MAC under a Hikvision OUI and nothing else: could be spoofed.
	d := Decide(p, Device{MAC: "44:19:b6:12:34:56", Verdict: verdict("hikvision", classify.Weak)}, t0)
	fmt.Println(d.Action)
	// SADP answered: the camera is a Hikvision whatever its label says.
	d = Decide(p, Device{MAC: "44:19:b6:12:34:56", Verdict: verdict("hikvision", classify.Definitive)}, t0)
	fmt.Println(d.Action)
	// Output:
	// alert
	// isolate
}
