package bench

import (
	"regexp"
	"slices"
	"sort"
	"strings"
)

// FlaggedMakers are the makers the default policy flags (enforce.
// DefaultFlaggedMakers); a reference tool "would flag" a device when its
// output names one of them.
var FlaggedMakers = []string{"hikvision", "dahua", "huawei", "zte", "hytera"}

// Aliases are other names under which a maker appears in OUI registries and
// banners: Hanwha Techwin was Samsung Techwin, HP registers as Hewlett
// Packard. Counting them is generous to the reference tools on purpose.
var Aliases = map[string][]string{
	"hp":     {"hewlett packard", "hewlett-packard"},
	"hanwha": {"samsung techwin"},
}

// names returns the word patterns that name maker (its id, the brand on the
// box, and its aliases).
func names(maker, brand string) []string {
	var out []string
	if maker != "" {
		out = append(out, maker)
		out = append(out, Aliases[maker]...)
	}
	if brand != "" {
		out = append(out, brand)
	}
	return out
}

var wordCache = map[string]*regexp.Regexp{}

// mentions reports whether text contains name as a whole word, case
// insensitively ("hp" must not match "php").
func mentions(text, name string) bool {
	re, ok := wordCache[name]
	if !ok {
		re = regexp.MustCompile(`(?i)(^|[^a-z0-9])` + regexp.QuoteMeta(strings.ToLower(name)) + `($|[^a-z0-9])`)
		wordCache[name] = re
	}
	return re.MatchString(text)
}

// NamedMakers returns which of the candidate makers text names (by id, alias
// or brand), sorted. brands maps a maker to the brands it is sold under.
func NamedMakers(text string, makers []string, brands map[string][]string) []string {
	var out []string
	for _, m := range makers {
		found := false
		for _, n := range names(m, "") {
			if mentions(text, n) {
				found = true
				break
			}
		}
		for _, b := range brands[m] {
			if !found && mentions(text, b) {
				found = true
			}
		}
		if found {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// Judge is the verdict on one device from one tool's output.
type Judge struct {
	Correct bool     // names the true maker and no other maker of the lab
	Named   []string // makers the output names
	Flags   bool     // names a flagged maker: what an operator reading it would flag
}

// JudgeText decides whether text names truth as the device's maker, and
// whether an operator reading it would flag the device (it names a flagged
// maker, by id, alias or brand). makers are the candidates (every maker of
// the lab plus FlaggedMakers), brands the
// brands each is sold under. A device whose true maker is "" cannot be named
// and is never Correct.
func JudgeText(text, truth string, makers []string, brands map[string][]string) Judge {
	j := Judge{Named: NamedMakers(text, makers, brands)}
	j.Correct = truth != "" && len(j.Named) == 1 && j.Named[0] == truth
	for _, m := range j.Named {
		if slices.Contains(FlaggedMakers, m) {
			j.Flags = true
		}
	}
	return j
}
