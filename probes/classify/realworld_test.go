package classify_test

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
	"github.com/camwarden/camwarden/probes/classify/realworld"
)

// realworldMAC is locally administered, so no OUI rule can help or hurt:
// each entry must be named from its own strings.
var realworldMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}

type rwOutcome int

const (
	rwRight rwOutcome = iota
	rwWrong
	rwReview
)

// flaggedBy reports whether the default policy would flag a verdict naming
// maker with components (review verdicts name no maker and flag nothing).
func flaggedBy(maker string, components []string) bool {
	if slices.Contains(enforce.DefaultFlaggedMakers, maker) {
		return true
	}
	for _, c := range components {
		if slices.Contains(enforce.DefaultFlaggedComponents, c) {
			return true
		}
	}
	return false
}

func rwInput(e realworld.Entry) classify.Input {
	in := classify.Input{MAC: realworldMAC}
	keys := make([]string, 0, len(e.Facts))
	for k := range e.Facts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Facts = append(in.Facts, probes.Fact{Key: k, Value: e.Facts[k]})
	}
	return in
}

// judge compares a verdict with what the corpus entry expects and says why
// it is wrong ("" when right).
func judge(e realworld.Entry, v classify.Verdict) (rwOutcome, string) {
	if len(v.Review) > 0 {
		return rwReview, "review: " + strings.Join(v.Review, "; ")
	}
	var why []string
	if v.Maker != e.Maker {
		why = append(why, fmt.Sprintf("maker %q, want %q", v.Maker, e.Maker))
	}
	if e.Brand != "" && !strings.EqualFold(v.Brand, e.Brand) {
		why = append(why, fmt.Sprintf("brand %q, want %q", v.Brand, e.Brand))
	}
	if e.Component != "" && !slices.Contains(v.Components, e.Component) {
		why = append(why, fmt.Sprintf("components %v, want %s", v.Components, e.Component))
	}
	if e.Component == "" && len(v.Components) > 0 && !flaggedBy(e.Maker, nil) {
		why = append(why, fmt.Sprintf("components %v, want none", v.Components))
	}
	if len(why) > 0 {
		return rwWrong, strings.Join(why, ", ")
	}
	return rwRight, ""
}

type rwScore struct{ entries, right, wrong, review, falseFlag, missedFlag int }

// TestRealWorldCorpus classifies every real-world entry on its own and
// requires the maker (and brand/component where given), no review, and the
// policy's flag exactly when the entry is restricted. The score table goes
// to the test log.
func TestRealWorldCorpus(t *testing.T) {
	entries, err := realworld.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 300 {
		t.Errorf("corpus has %d entries, want at least 300", len(entries))
	}
	set := classify.Default()
	scores := map[string]*rwScore{}
	var total rwScore
	for _, e := range entries {
		family := strings.TrimSuffix(e.File, ".yaml")
		s := scores[family]
		if s == nil {
			s = &rwScore{}
			scores[family] = s
		}
		v := classify.Classify(set, rwInput(e))
		want := flaggedBy(e.Maker, []string{e.Component})
		got := len(v.Review) == 0 && flaggedBy(v.Maker, v.Components)
		out, why := judge(e, v)
		for _, sc := range []*rwScore{s, &total} {
			sc.entries++
			switch out {
			case rwRight:
				sc.right++
			case rwWrong:
				sc.wrong++
			case rwReview:
				sc.review++
			}
			if got && !want {
				sc.falseFlag++
			}
			if want && !got {
				sc.missedFlag++
			}
		}
		if got && !want {
			t.Errorf("%s (%s): FALSE FLAG: %s; facts %v", e.ID, e.File, why, e.Facts)
		} else if want && !got {
			t.Errorf("%s (%s): MISSED FLAG: %s; facts %v", e.ID, e.File, why, e.Facts)
		} else if out != rwRight {
			t.Errorf("%s (%s): %s; facts %v", e.ID, e.File, why, e.Facts)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-15s %7s %6s %6s %7s %11s %12s\n", "family", "entries", "right", "wrong", "review", "false flags", "missed flags")
	families := make([]string, 0, len(scores))
	for f := range scores {
		families = append(families, f)
	}
	sort.Strings(families)
	row := func(name string, s *rwScore) {
		fmt.Fprintf(&b, "%-15s %7d %6d %6d %7d %11d %12d\n", name, s.entries, s.right, s.wrong, s.review, s.falseFlag, s.missedFlag)
	}
	for _, f := range families {
		row(f, scores[f])
	}
	row("total", &total)
	t.Log(b.String())
}

// The corpus must cover the families the issue names and enough innocent
// makers that a risk assessment can name them.
func TestRealWorldCoverage(t *testing.T) {
	entries, err := realworld.Load()
	if err != nil {
		t.Fatal(err)
	}
	makers := map[string]int{}
	hisilicon := 0
	for _, e := range entries {
		makers[e.Maker]++
		if e.Component == "hisilicon" {
			hisilicon++
		}
	}
	for _, m := range enforce.DefaultFlaggedMakers {
		if makers[m] == 0 {
			t.Errorf("no corpus entry for %s", m)
		}
	}
	if hisilicon == 0 {
		t.Error("no corpus entry for HiSilicon firmware")
	}
	if makers[""] < 30 {
		t.Errorf("%d generic entries (maker \"\"), want at least 30 to guard against false flags", makers[""])
	}
	innocent := 0
	for m := range makers {
		if m != "" && !slices.Contains(enforce.DefaultFlaggedMakers, m) {
			innocent++
		}
	}
	if innocent < 25 {
		t.Errorf("%d non-restricted makers in the corpus, want at least 25", innocent)
	}
}
