package classify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// The built-in signatures are every signatures/*.yaml, loaded in file-name
// order as one set (an id may appear only once across them). They are split
// by subject so each file stays readable: base.yaml holds the rules the
// foundation shipped, others add families of evidence.
//
//go:embed signatures/*.yaml
var builtinFS embed.FS

// Limits on a signature document, so a policy (signed, but still input)
// cannot make classification slow or memory-hungry.
const (
	MaxSignatureBytes = 1 << 20
	MaxRules          = 4000
	MaxConditions     = 16 // per rule; also the width of the match bitmask
	MaxRegex          = 1024
	MaxListItems      = 64
	maxReason         = 400
	maxBrand          = 64
)

var (
	idRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	makerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	keyRE   = regexp.MustCompile(`^[a-z0-9_]{1,24}\.[a-z0-9_.]{1,39}$`)
)

// Condition is one test on the facts of a device. Exactly one of Equals,
// In, Prefix, Regex or Present is set. A condition on a key that occurs
// several times (wsd.scope) holds when any one of its values passes.
type Condition struct {
	Fact       string   `yaml:"fact"`
	Equals     *string  `yaml:"equals"`
	In         []string `yaml:"in"`
	Prefix     *string  `yaml:"prefix"`
	Regex      *string  `yaml:"regex"`
	Present    *bool    `yaml:"present"` // false: no fact with this key at all
	IgnoreCase bool     `yaml:"ignore_case"`
}

// Rule is one signature. Its conditions are ANDed. A rule claims a maker,
// or a component, or both.
type Rule struct {
	ID          string      `yaml:"id"`
	Probe       string      `yaml:"probe"` // evidence source; default: prefix of the first condition's key
	When        []Condition `yaml:"when"`
	Maker       string      `yaml:"maker"`
	Brand       string      `yaml:"brand"`        // label on the box, when fixed
	BrandFrom   []string    `yaml:"brand_from"`   // or the first of these facts present
	BrandIgnore []string    `yaml:"brand_ignore"` // values of BrandFrom that name no brand ("General")
	Model       []string    `yaml:"model"`        // fact keys to copy, first present wins
	Serial      []string    `yaml:"serial"`
	Firmware    []string    `yaml:"firmware"`
	Strength    string      `yaml:"strength"` // weak | strong | definitive
	Component   string      `yaml:"component"`
	Reason      string      `yaml:"reason"`
	// Ambiguous marks evidence that more than one maker's firmware is known
	// to produce (a shared SDK banner, a realm several OEMs copy). It never
	// names the maker on its own: unless stronger evidence settles it, a
	// device it matches is left for review.
	Ambiguous bool `yaml:"ambiguous"`
	// Disabled in a policy's rules removes the built-in rule of that id.
	Disabled bool `yaml:"disabled"`
}

type document struct {
	Schema     int    `yaml:"schema"`
	Signatures []Rule `yaml:"signatures"`
}

// Set is a compiled, immutable set of signatures.
type Set struct {
	rules []*compiled
	// byKey maps a fact key to the conditions that test it, so Classify
	// walks the device's facts once instead of every rule's conditions.
	byKey map[string][]condRef
	// absent lists conditions with present: false.
	absent []condRef
}

type condRef struct {
	rule int
	cond uint8
}

type compiled struct {
	Rule
	strength Confidence
	probe    string
	conds    []matcher
	full     uint16 // bitmask with one bit per condition
}

type matcher struct {
	key     string
	kind    uint8
	s       string
	list    []string
	re      *regexp.Regexp
	fold    bool
	present bool
}

const (
	mEquals = iota
	mIn
	mPrefix
	mRegex
	mPresent
)

func (m *matcher) match(v string) bool {
	switch m.kind {
	case mEquals:
		if m.fold {
			return strings.EqualFold(v, m.s)
		}
		return v == m.s
	case mIn:
		for _, s := range m.list {
			if v == s || m.fold && strings.EqualFold(v, s) {
				return true
			}
		}
		return false
	case mPrefix:
		if len(v) < len(m.s) {
			return false
		}
		if m.fold {
			return strings.EqualFold(v[:len(m.s)], m.s)
		}
		return v[:len(m.s)] == m.s
	case mRegex:
		return m.re.MatchString(v)
	case mPresent:
		return true
	}
	return false
}

// Default returns the built-in signatures. It panics if they do not load,
// which the package tests rule out.
func Default() *Set { return defaultSet() }

var defaultSet = sync.OnceValue(func() *Set {
	s, err := loadBuiltin()
	if err != nil {
		panic("classify: built-in signatures: " + err.Error())
	}
	return s
})

// builtinDocs returns the built-in signature files, sorted by name.
func builtinDocs() (names []string, docs [][]byte, err error) {
	ents, err := builtinFS.ReadDir("signatures")
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents { // ReadDir sorts by name
		b, err := builtinFS.ReadFile("signatures/" + e.Name())
		if err != nil {
			return nil, nil, err
		}
		names = append(names, e.Name())
		docs = append(docs, b)
	}
	return names, docs, nil
}

// loadBuiltin loads every built-in file and joins them in order.
func loadBuiltin() (*Set, error) {
	names, docs, err := builtinDocs()
	if err != nil {
		return nil, err
	}
	var rules []*compiled
	where := map[string]string{}
	for i, doc := range docs {
		s, err := LoadSignatures(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
		for _, r := range s.rules {
			if f, dup := where[r.ID]; dup {
				return nil, fmt.Errorf("%s: signature %q: id: duplicate of the one in %s", names[i], r.ID, f)
			}
			where[r.ID] = names[i]
			rules = append(rules, r)
		}
	}
	if len(rules) > MaxRules {
		return nil, fmt.Errorf("%d rules, more than %d", len(rules), MaxRules)
	}
	return index(rules), nil
}

// LoadSignatures parses and checks a signature document. Errors name the
// rule and the field. Rules with disabled: true are kept so Merge can use
// them to remove built-in rules, but they never match.
func LoadSignatures(doc []byte) (*Set, error) {
	if len(doc) > MaxSignatureBytes {
		return nil, fmt.Errorf("classify: signatures: %d bytes, more than %d", len(doc), MaxSignatureBytes)
	}
	var d document
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("classify: signatures: empty document")
		}
		return nil, fmt.Errorf("classify: signatures: %w", err)
	}
	if d.Schema != 1 {
		return nil, fmt.Errorf("classify: signatures: schema: %d, want 1", d.Schema)
	}
	if len(d.Signatures) > MaxRules {
		return nil, fmt.Errorf("classify: signatures: %d rules, more than %d", len(d.Signatures), MaxRules)
	}
	seen := make(map[string]bool, len(d.Signatures))
	rules := make([]*compiled, 0, len(d.Signatures))
	for i := range d.Signatures {
		r := d.Signatures[i]
		c, err := compile(r)
		if err != nil {
			name := fmt.Sprintf("#%d", i+1)
			if r.ID != "" {
				name = fmt.Sprintf("%q", r.ID)
			}
			return nil, fmt.Errorf("classify: signature %s: %w", name, err)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("classify: signature %q: id: duplicate", r.ID)
		}
		seen[r.ID] = true
		rules = append(rules, c)
	}
	return index(rules), nil
}

func fieldErr(field, format string, a ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...))
}

func compile(r Rule) (*compiled, error) {
	if !idRE.MatchString(r.ID) {
		return nil, fieldErr("id", "%q must be 1-64 of a-z 0-9 . _ - starting with a letter or digit", r.ID)
	}
	c := &compiled{Rule: r}
	if r.Disabled {
		// A disabling entry only needs its id; the rest is not checked so
		// a policy can say just {id: x, disabled: true}.
		return c, nil
	}
	if len(r.When) == 0 {
		return nil, fieldErr("when", "at least one condition is required")
	}
	if len(r.When) > MaxConditions {
		return nil, fieldErr("when", "%d conditions, more than %d", len(r.When), MaxConditions)
	}
	for i, w := range r.When {
		m, err := compileCond(w)
		if err != nil {
			return nil, fmt.Errorf("when[%d].%w", i, err)
		}
		c.conds = append(c.conds, m)
	}
	c.full = uint16(1<<len(c.conds) - 1)
	if r.Maker == "" && r.Component == "" {
		return nil, fieldErr("maker", "a rule must claim a maker, a component or both")
	}
	if r.Maker != "" && !makerRE.MatchString(r.Maker) {
		return nil, fieldErr("maker", "%q must be a lower-case id like hikvision", r.Maker)
	}
	if r.Component != "" && !makerRE.MatchString(r.Component) {
		return nil, fieldErr("component", "%q must be a lower-case id like hisilicon", r.Component)
	}
	if r.Maker == "" && (r.Brand != "" || len(r.BrandFrom) > 0) {
		return nil, fieldErr("brand", "a brand needs a maker")
	}
	if len(r.Brand) > maxBrand || r.Brand != strings.TrimSpace(r.Brand) {
		return nil, fieldErr("brand", "%q must be at most %d bytes without surrounding space", r.Brand, maxBrand)
	}
	for _, f := range []struct {
		name string
		keys []string
	}{{"brand_from", r.BrandFrom}, {"model", r.Model}, {"serial", r.Serial}, {"firmware", r.Firmware}} {
		if len(f.keys) > MaxListItems {
			return nil, fieldErr(f.name, "more than %d keys", MaxListItems)
		}
		for j, k := range f.keys {
			if !keyRE.MatchString(k) {
				return nil, fieldErr(fmt.Sprintf("%s[%d]", f.name, j), "%q is not a fact key like onvif.model", k)
			}
		}
	}
	if len(r.BrandIgnore) > MaxListItems {
		return nil, fieldErr("brand_ignore", "more than %d values", MaxListItems)
	}
	st, err := ParseConfidence(r.Strength)
	if err != nil || st == None {
		return nil, fieldErr("strength", "%q must be weak, strong or definitive", r.Strength)
	}
	c.strength = st
	if strings.TrimSpace(r.Reason) == "" || len(r.Reason) > maxReason {
		return nil, fieldErr("reason", "must be set, at most %d bytes", maxReason)
	}
	c.probe = r.Probe
	if c.probe == "" {
		c.probe, _, _ = strings.Cut(r.When[0].Fact, ".")
	} else if !makerRE.MatchString(c.probe) {
		return nil, fieldErr("probe", "%q must be a lower-case probe name", c.probe)
	}
	return c, nil
}

func compileCond(w Condition) (matcher, error) {
	m := matcher{key: w.Fact, fold: w.IgnoreCase}
	if !keyRE.MatchString(w.Fact) {
		return m, fieldErr("fact", "%q is not a fact key like http.server", w.Fact)
	}
	n := 0
	if w.Equals != nil {
		n++
		m.kind, m.s = mEquals, *w.Equals
	}
	if w.In != nil {
		n++
		if len(w.In) == 0 || len(w.In) > MaxListItems {
			return m, fieldErr("in", "want 1 to %d values", MaxListItems)
		}
		m.kind, m.list = mIn, w.In
	}
	if w.Prefix != nil {
		n++
		if *w.Prefix == "" {
			return m, fieldErr("prefix", "empty prefix matches everything; use present: true")
		}
		m.kind, m.s = mPrefix, *w.Prefix
	}
	if w.Regex != nil {
		n++
		if len(*w.Regex) > MaxRegex {
			return m, fieldErr("regex", "longer than %d bytes", MaxRegex)
		}
		expr := *w.Regex
		if w.IgnoreCase {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return m, fieldErr("regex", "%v", err)
		}
		m.kind, m.re = mRegex, re
	}
	if w.Present != nil {
		n++
		m.kind, m.present = mPresent, *w.Present
	}
	if n != 1 {
		return m, fieldErr("fact", "%s needs exactly one of equals, in, prefix, regex, present (has %d)", w.Fact, n)
	}
	return m, nil
}

func index(rules []*compiled) *Set {
	s := &Set{rules: rules, byKey: map[string][]condRef{}}
	for i, r := range rules {
		if r.Disabled {
			continue
		}
		for j, m := range r.conds {
			ref := condRef{rule: i, cond: uint8(j)}
			if m.kind == mPresent && !m.present {
				s.absent = append(s.absent, ref)
				continue
			}
			s.byKey[m.key] = append(s.byKey[m.key], ref)
		}
	}
	return s
}

// Merge returns a new set: s's rules, with extra's rules replacing those of
// the same id in place and new ids appended after. An extra rule with
// disabled: true removes the rule of that id. Neither input changes.
func (s *Set) Merge(extra *Set) *Set {
	if extra == nil || len(extra.rules) == 0 {
		return s
	}
	if s == nil {
		s = &Set{}
	}
	over := make(map[string]*compiled, len(extra.rules))
	for _, r := range extra.rules {
		over[r.ID] = r
	}
	out := make([]*compiled, 0, len(s.rules)+len(extra.rules))
	used := map[string]bool{}
	for _, r := range s.rules {
		if o, ok := over[r.ID]; ok {
			used[r.ID] = true
			if !o.Disabled {
				out = append(out, o)
			}
			continue
		}
		out = append(out, r)
	}
	for _, r := range extra.rules {
		if !used[r.ID] && !r.Disabled {
			out = append(out, r)
		}
	}
	return index(out)
}

// Len is the number of active rules.
func (s *Set) Len() int {
	n := 0
	for _, r := range s.rules {
		if !r.Disabled {
			n++
		}
	}
	return n
}

// Rules returns copies of the active rules in evaluation order, for
// listing and review.
func (s *Set) Rules() []Rule {
	var out []Rule
	for _, r := range s.rules {
		if !r.Disabled {
			out = append(out, r.Rule)
		}
	}
	return out
}
