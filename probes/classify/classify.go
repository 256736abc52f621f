package classify

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/oui"
)

// Input is everything known about one device.
type Input struct {
	MAC   net.HardwareAddr
	Facts []probes.Fact
}

// MaxInputFacts bounds the facts one classification looks at; the
// inventory caps what it keeps per device well below this.
const MaxInputFacts = 4096

// Pseudo fact keys classify derives from the MAC.
const (
	FactOUIOrg    = "oui.org"
	FactOUIPrefix = "oui.prefix"
	FactOUIBits   = "oui.bits"
)

type hit struct {
	r     *compiled
	order int    // rule position, for deterministic ties
	seen  string // "key=value" that matched the rule's first condition
}

type candidate struct {
	maker    string
	best     Confidence
	hits     []hit // strongest first
	probes   []string
	atBest   int // distinct probes with evidence at the best strength
	ouiAgree bool
}

// Classify applies set to one device. It is pure and safe for concurrent
// use; a nil set means Default().
func Classify(set *Set, in Input) Verdict {
	if set == nil {
		set = Default()
	}
	facts := in.Facts
	if len(facts) > MaxInputFacts {
		facts = facts[:MaxInputFacts]
	}
	// The OUI facts come from the MAC only: a probe (or a device talking
	// through one) must not be able to claim a registrant.
	var ouiFacts [3]probes.Fact
	entry, hasOUI := oui.Lookup(in.MAC)
	nOUI := 0
	if hasOUI {
		ouiFacts = [3]probes.Fact{
			{Key: FactOUIOrg, Value: entry.Org},
			{Key: FactOUIPrefix, Value: entry.Prefix},
			{Key: FactOUIBits, Value: strconv.Itoa(entry.Bits)},
		}
		nOUI = 3
	}
	all := func(yield func(probes.Fact) bool) {
		for _, f := range facts {
			if strings.HasPrefix(f.Key, "oui.") {
				continue
			}
			if !yield(f) {
				return
			}
		}
		for _, f := range ouiFacts[:nOUI] {
			if !yield(f) {
				return
			}
		}
	}

	masks := make([]uint16, len(set.rules))
	// seen keeps the fact that matched each rule's first condition; it is
	// only formatted for rules that end up matching.
	seen := make([]int32, len(set.rules)) // fact index + 1; -1 for "absent"
	factAt := func(i int) probes.Fact {
		if i < len(facts) {
			return facts[i]
		}
		return ouiFacts[i-len(facts)]
	}
	for i := range len(facts) + nOUI {
		f := factAt(i)
		if i < len(facts) && strings.HasPrefix(f.Key, "oui.") {
			continue
		}
		for _, ref := range set.byKey[f.Key] {
			bit := uint16(1) << ref.cond
			if masks[ref.rule]&bit != 0 {
				continue
			}
			r := set.rules[ref.rule]
			if r.conds[ref.cond].match(f.Value) {
				masks[ref.rule] |= bit
				if ref.cond == 0 {
					seen[ref.rule] = int32(i + 1)
				}
			}
		}
	}
	for _, ref := range set.absent {
		key := set.rules[ref.rule].conds[ref.cond].key
		found := false
		for f := range all {
			if f.Key == key {
				found = true
				break
			}
		}
		if !found {
			masks[ref.rule] |= 1 << ref.cond
			if ref.cond == 0 {
				seen[ref.rule] = -1
			}
		}
	}

	var hits []hit
	for i, r := range set.rules {
		if !r.Disabled && len(r.conds) > 0 && masks[i] == r.full {
			var d string
			switch n := seen[i]; {
			case n > 0:
				f := factAt(int(n - 1))
				d = f.Key + "=" + quote(f.Value)
			case n < 0:
				d = "no " + r.conds[0].key
			}
			hits = append(hits, hit{r: r, order: i, seen: d})
		}
	}
	// Strongest first, then file order: every "first wins" below relies on it.
	slices.SortStableFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(b.r.strength, a.r.strength), cmp.Compare(a.order, b.order))
	})
	return resolve(in, hits, entry, hasOUI, all)
}

// FactClaimsOther is set by the pipeline (never by a probe) on a device
// whose discovery reply named another known device's MAC or IP: a sender
// speaking for someone else is a spoofing tell, so its verdict goes to
// review instead of to whichever maker the reply claims.
const FactClaimsOther = "identity.claims_other"

func resolve(in Input, hits []hit, entry oui.Entry, hasOUI bool, all func(func(probes.Fact) bool)) Verdict {
	v := Verdict{Evidence: []Evidence{}}
	var cands []*candidate
	byMaker := map[string]*candidate{}
	var comps []string
	var makerless, ambiguous []hit
	for _, h := range hits {
		if h.r.Component != "" && !slices.Contains(comps, h.r.Component) {
			comps = append(comps, h.r.Component)
		}
		if h.r.Ambiguous {
			ambiguous = append(ambiguous, h)
			continue
		}
		if h.r.Maker == "" {
			makerless = append(makerless, h)
			continue
		}
		c := byMaker[h.r.Maker]
		if c == nil {
			c = &candidate{maker: h.r.Maker, best: h.r.strength}
			byMaker[h.r.Maker] = c
			cands = append(cands, c)
		}
		c.hits = append(c.hits, h)
		if !slices.Contains(c.probes, h.r.probe) {
			c.probes = append(c.probes, h.r.probe)
			if h.r.strength == c.best {
				c.atBest++
			}
		}
		if h.r.probe == "oui" {
			c.ouiAgree = true
		}
	}
	slices.Sort(comps)
	v.Components = comps

	// Strongest evidence first; among equals, the maker more independent
	// probes agree on, then more probes at all, then more signatures. Name
	// order only makes the list stable: it never decides (see review).
	slices.SortFunc(cands, func(a, b *candidate) int {
		return cmp.Or(
			cmp.Compare(b.best, a.best),
			cmp.Compare(b.atBest, a.atBest),
			cmp.Compare(len(b.probes), len(a.probes)),
			cmp.Compare(len(b.hits), len(a.hits)),
			strings.Compare(a.maker, b.maker),
		)
	})

	if len(in.MAC) > 0 && in.MAC[0]&0x02 != 0 {
		v.Notes = append(v.Notes, "The MAC address is locally administered (randomised or set by software), so the IEEE registry says nothing about this device.")
	}

	if reasons, who := review(cands, ambiguous, all); len(reasons) > 0 {
		// No maker is named, so there is no confidence in one: the
		// strengths stay visible on each piece of evidence.
		v.Review, v.Candidates = reasons, who
		for _, c := range cands {
			for _, h := range c.hits {
				v.Evidence = append(v.Evidence, evidenceOf(h, brandOf(h.r, c.maker, all)))
			}
		}
		for _, h := range ambiguous {
			v.Evidence = append(v.Evidence, evidenceOf(h, ""))
		}
		for _, h := range makerless {
			v.Evidence = append(v.Evidence, evidenceOf(h, ""))
		}
		if hasOUI && byOUI(cands) == nil {
			v.Evidence = append(v.Evidence, unmappedOUI(entry))
		}
		return v
	}

	if len(cands) == 0 {
		for _, h := range makerless {
			v.Evidence = append(v.Evidence, evidenceOf(h, ""))
			// With no maker to name, the confidence is that of the strongest
			// component claim: a white-label box on HiSilicon reference
			// firmware must still be flaggable by component.
			if h.r.Component != "" && h.r.strength > v.Confidence {
				v.Confidence = h.r.strength
			}
		}
		if hasOUI {
			v.Evidence = append(v.Evidence, unmappedOUI(entry))
		}
		return v
	}

	w := cands[0]
	v.Maker = w.maker
	v.Confidence = w.best
	if len(cands) > 1 && cands[1].best == w.best && cands[1].atBest == w.atBest {
		// Weak evidence for two makers, one side corroborated by more
		// signatures: name it, but say how thin the margin is.
		v.Conflicts = append(v.Conflicts, fmt.Sprintf(
			"Evidence of equal strength (%s) points at both %s and %s; %s was chosen because %s. Check the device by hand.",
			w.best, w.maker, cands[1].maker, w.maker, tieReason(w, cands[1])))
	}

	// Brand and identity come from the strongest evidence that has them.
	for _, h := range w.hits {
		if v.Brand == "" {
			v.Brand = brandOf(h.r, w.maker, all)
		}
		if v.Model == "" {
			v.Model = firstFact(h.r.Model, all)
		}
		if v.Serial == "" {
			v.Serial = firstFact(h.r.Serial, all)
		}
		if v.Firmware == "" {
			v.Firmware = firstFact(h.r.Firmware, all)
		}
	}

	for _, h := range w.hits {
		v.Evidence = append(v.Evidence, evidenceOf(h, brandOf(h.r, w.maker, all)))
	}
	for _, h := range ambiguous {
		v.Evidence = append(v.Evidence, evidenceOf(h, ""))
	}
	for _, h := range makerless {
		v.Evidence = append(v.Evidence, evidenceOf(h, ""))
	}

	// The MAC prefix belongs to someone no signature ties to the maker.
	if hasOUI && !w.ouiAgree && byOUI(cands) == nil {
		v.Evidence = append(v.Evidence, unmappedOUI(entry))
		v.Conflicts = append(v.Conflicts, fmt.Sprintf(
			"The MAC prefix %s is registered to %q, which is not known to be %s, yet the device behaves like %s (%s): possibly a Wi-Fi or network module made by that company, OEM hardware, or a changed MAC.",
			entry.Prefix, entry.Org, w.maker, w.maker, w.best))
	}

	for _, c := range cands[1:] {
		for _, h := range c.hits {
			v.Evidence = append(v.Evidence, evidenceOf(h, brandOf(h.r, c.maker, all)))
		}
		v.Conflicts = append(v.Conflicts, conflictText(w, c, entry))
	}

	if n := len(w.probes); n > 1 {
		v.Notes = append(v.Notes, fmt.Sprintf("%d independent probes agree on %s (%s).", n, w.maker, strings.Join(sortedCopy(w.probes), ", ")))
	}
	if w.best == Weak && len(w.probes) == 1 && w.probes[0] == "oui" {
		v.Notes = append(v.Notes, "Only the MAC prefix points at this maker; that is weak evidence (Wi-Fi modules, OEM prefixes and spoofed MACs mislead) and never enough to isolate a device.")
	}
	return v
}

// review returns why the evidence cannot name one maker, and the makers it
// points at; nil when it can. The decision table is in doc.go.
func review(cands []*candidate, ambiguous []hit, all func(func(probes.Fact) bool)) (reasons, who []string) {
	addWho := func(m string) {
		if m != "" && !slices.Contains(who, m) {
			who = append(who, m)
		}
	}
	for f := range all {
		if f.Key == FactClaimsOther {
			reasons = append(reasons, fmt.Sprintf(
				"This device sent a discovery reply that claims another device's identity (%s). A host speaking for another is a spoofing tell, so neither its own verdict nor the one it claims is trusted.", f.Value))
			break
		}
	}
	var strong []*candidate
	for _, c := range cands {
		if c.best >= Strong {
			strong = append(strong, c)
		}
	}
	if len(strong) >= 2 {
		var sides []string
		for _, c := range strong {
			sides = append(sides, fmt.Sprintf("%s (%s: %s)", c.maker, c.best, c.hits[0].seen))
			addWho(c.maker)
		}
		reasons = append(reasons, fmt.Sprintf(
			"Strong evidence points at more than one maker: %s. Neither is picked; settle it by hand.", strings.Join(sides, "; ")))
	}
	top := None
	if len(cands) > 0 {
		top = cands[0].best
	}
	for _, h := range ambiguous {
		if h.r.strength >= top && h.r.strength > Weak {
			reasons = append(reasons, fmt.Sprintf(
				"The strongest evidence is shared by several makers' firmware: %s [%s].", h.r.Reason, h.seen))
			addWho(h.r.Maker)
			if len(cands) > 0 {
				addWho(cands[0].maker)
			}
			break
		}
	}
	if len(reasons) == 0 && len(cands) > 1 {
		a, b := cands[0], cands[1]
		if a.best == b.best && a.atBest == b.atBest && len(a.probes) == len(b.probes) && len(a.hits) == len(b.hits) {
			reasons = append(reasons, fmt.Sprintf(
				"Evidence of equal strength (%s) and equal corroboration points at both %s and %s; nothing separates them.", a.best, a.maker, b.maker))
			addWho(a.maker)
			addWho(b.maker)
		}
	}
	if len(reasons) > 0 && len(who) == 0 {
		for _, c := range cands {
			addWho(c.maker)
		}
	}
	return reasons, who
}

func tieReason(a, b *candidate) string {
	switch {
	case len(a.probes) != len(b.probes):
		return "more probes agree on it"
	}
	return "more signatures matched it"
}

// byOUI returns the candidate whose evidence includes the MAC prefix.
func byOUI(cands []*candidate) *candidate {
	for _, c := range cands {
		if c.ouiAgree {
			return c
		}
	}
	return nil
}

func conflictText(w, c *candidate, entry oui.Entry) string {
	h := c.hits[0]
	if len(c.probes) == 1 && c.probes[0] == "oui" {
		return fmt.Sprintf(
			"The MAC prefix %s is registered to %q (%s, %s evidence), but %s evidence says %s: possibly %s hardware sold under another name, a Wi-Fi or network module, or a spoofed MAC.",
			entry.Prefix, entry.Org, c.maker, c.best, w.best, w.maker, c.maker)
	}
	return fmt.Sprintf(
		"%s evidence from %s (%s) points at %s, but %s evidence says %s: possibly an OEM relabel, a copied banner or name, or a spoofed answer.",
		capitalize(c.best.String()), strings.Join(sortedCopy(c.probes), ", "), h.seen, c.maker, w.best, w.maker)
}

func unmappedOUI(e oui.Entry) Evidence {
	return Evidence{
		Probe:  "oui",
		Detail: fmt.Sprintf("MAC prefix %s (%d-bit) is registered to %q; no signature ties that organisation to a maker", e.Prefix, e.Bits, e.Org),
	}
}

func evidenceOf(h hit, brand string) Evidence {
	d := h.r.Reason
	if h.seen != "" {
		d += " [" + h.seen + "]"
	}
	return Evidence{Probe: h.r.probe, Detail: d, Maker: h.r.Maker, Brand: brand, Strength: h.r.strength, Rule: h.r.ID}
}

// brandOf is the label a rule names, or "" when it names the maker itself.
func brandOf(r *compiled, maker string, all func(func(probes.Fact) bool)) string {
	b := r.Brand
	if b == "" && len(r.BrandFrom) > 0 {
		b = firstFact(r.BrandFrom, all)
		for _, ig := range r.BrandIgnore {
			if strings.EqualFold(b, ig) {
				b = ""
			}
		}
	}
	if strings.EqualFold(b, maker) {
		return ""
	}
	return b
}

func firstFact(keys []string, all func(func(probes.Fact) bool)) string {
	for _, k := range keys {
		for f := range all {
			if f.Key == k && f.Value != "" {
				return f.Value
			}
		}
	}
	return ""
}

// quote shows a device-supplied value short enough for one line of evidence.
func quote(s string) string {
	const max = 80
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
