package replaylab

import (
	"strings"
	"testing"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/probes/camsim/replay"
	"github.com/camwarden/camwarden/probes/classify/realworld"
)

// The survey configuration is one the appliance accepts, carrying the
// account and community the replayed devices use.
func TestSurveyConfig(t *testing.T) {
	c, err := config.Parse([]byte(SurveyConfig()))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Probing.ONVIF) != 1 || c.Probing.ONVIF[0].User != replay.ONVIFUser || len(c.Probing.SNMPCommunities) != 1 {
		t.Errorf("probing %+v", c.Probing)
	}
}

func TestJudgeAndScore(t *testing.T) {
	hik := realworld.Entry{ID: "h", Maker: "hikvision", File: "hikvision.yaml", Facts: map[string]string{"http.server": "App-webs/"}}
	axis := realworld.Entry{ID: "a", Maker: "axis", File: "nonrestricted.yaml", Facts: map[string]string{"http.server": "x"}}
	hisi := realworld.Entry{ID: "s", Maker: "", Component: "hisilicon", File: "hisilicon.yaml", Facts: map[string]string{"http.title": "t"}}
	if !WantFlag(hik) || WantFlag(axis) || !WantFlag(hisi) {
		t.Fatal("WantFlag does not follow the default policy")
	}
	mk := func(e realworld.Entry, found bool, d Device) Result {
		r := Result{Entry: e, Mode: replay.Mode404, Served: true, Found: found, Device: d, WantFlag: WantFlag(e)}
		judge(&r)
		return r
	}
	rep := &Report{Results: []Result{
		mk(hik, true, Device{Maker: "hikvision", Flagged: true}),                                     // right
		mk(axis, true, Device{Maker: "huawei", Flagged: true}),                                       // wrong, false flag
		mk(axis, true, Device{Maker: "", Status: "review", Candidates: []string{"axis", "uniview"}}), // review
		mk(hik, false, Device{}), // wrong, missed flag
		mk(hisi, true, Device{Flagged: true, Components: []string{"hisilicon"}}),                         // right
		{Entry: axis, Mode: replay.Mode404, Problem: "not served: camsim cannot serve lldp.system_name"}, // not served
	}}
	s := rep.Scores()[replay.Mode404][""]
	want := Score{Entries: 6, Right: 2, Wrong: 2, Review: 1, FalseFlags: 1, MissedFlags: 1, NotServed: 1}
	if *s != want {
		t.Errorf("score %+v, want %+v", *s, want)
	}
	if f := rep.Scores()[replay.Mode404]["nonrestricted"]; f.Entries != 3 || f.Right != 0 {
		t.Errorf("family score %+v", *f)
	}
	var b strings.Builder
	rep.WriteTable(&b)
	if !strings.Contains(b.String(), "| 404 | **all** | 6 | 2 | 2 | 1 | 1 | 1 | 1 |") {
		t.Errorf("table:\n%s", b.String())
	}
	fails := rep.Failures()
	if len(fails) != 4 || !strings.Contains(fails[0], `maker "huawei", want "axis"`) || !strings.Contains(fails[1], "review") ||
		!strings.Contains(fails[2], "not in the survey") || !strings.Contains(fails[3], "not served") {
		t.Errorf("failures:\n%s", strings.Join(fails, "\n"))
	}
	// A survey without the status field: flagged and maker say it.
	if (Device{Flagged: true}).status() != "flagged" || (Device{}).status() != "unknown" || (Device{Maker: "axis"}).status() != "clean" {
		t.Error("derived status")
	}
}
