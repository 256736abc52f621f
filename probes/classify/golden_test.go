package classify_test

import (
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/classify"
)

type goldenWant struct {
	Maker       string   `yaml:"maker"`
	Brand       string   `yaml:"brand"`
	Confidence  string   `yaml:"confidence"`
	Model       string   `yaml:"model"`
	Serial      string   `yaml:"serial"`
	Firmware    string   `yaml:"firmware"`
	Components  []string `yaml:"components"`
	Conflicts   int      `yaml:"conflicts"`
	ConflictHas []string `yaml:"conflict_has"`
	Rules       []string `yaml:"rules"`
	NotRules    []string `yaml:"not_rules"`
	NotesHas    []string `yaml:"notes_has"`
	// Review lists phrases the review reasons must contain; a case without
	// it must not be under review. Candidates are the makers it names.
	Review     []string `yaml:"review"`
	Candidates []string `yaml:"candidates"`
}

type goldenCase struct {
	Name    string     `yaml:"name"`
	Profile string     `yaml:"profile"`
	MAC     string     `yaml:"mac"`
	Source  string     `yaml:"source"`
	Facts   []string   `yaml:"facts"`
	Want    goldenWant `yaml:"want"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []goldenCase `yaml:"cases"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("testdata/golden.yaml: %v", err)
	}
	return doc.Cases
}

// input turns a golden case into classify's input; profile cases take the
// MAC the lab gives the profile's first host.
func (c goldenCase) input(t testing.TB, profiles map[string]camsim.Profile) classify.Input {
	t.Helper()
	var in classify.Input
	switch {
	case c.Profile != "":
		p, ok := profiles[c.Profile]
		if !ok {
			t.Fatalf("%s: no camsim profile %q", c.Name, c.Profile)
		}
		in.MAC = p.MAC(1)
	case c.MAC != "":
		mac, err := net.ParseMAC(c.MAC)
		if err != nil {
			t.Fatalf("%s: mac: %v", c.Name, err)
		}
		in.MAC = mac
	default:
		t.Fatalf("%s: needs profile or mac", c.Name)
	}
	for _, kv := range c.Facts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("%s: fact %q is not key=value", c.Name, kv)
		}
		in.Facts = append(in.Facts, probes.F(k, v))
	}
	return in
}

func profileMap(t testing.TB) map[string]camsim.Profile {
	t.Helper()
	ps, err := camsim.Profiles()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]camsim.Profile{}
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

func TestGolden(t *testing.T) {
	profiles := profileMap(t)
	cases := loadGolden(t)
	set := classify.Default()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if c.Source == "" {
				t.Errorf("case has no source")
			}
			if c.Profile != "" {
				p := profiles[c.Profile]
				if p.Maker != c.Want.Maker || p.Brand != c.Want.Brand {
					t.Errorf("want maker/brand %q/%q disagree with camsim profile's %q/%q", c.Want.Maker, c.Want.Brand, p.Maker, p.Brand)
				}
			}
			v := classify.Classify(set, c.input(t, profiles))
			w := c.Want
			wantConf, err := classify.ParseConfidence(w.Confidence)
			if err != nil {
				t.Fatal(err)
			}
			check := func(field, got, want string) {
				if got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("maker", v.Maker, w.Maker)
			check("brand", v.Brand, w.Brand)
			check("confidence", v.Confidence.String(), wantConf.String())
			if w.Model != "" {
				check("model", v.Model, w.Model)
			}
			if w.Serial != "" {
				check("serial", v.Serial, w.Serial)
			}
			if w.Firmware != "" {
				check("firmware", v.Firmware, w.Firmware)
			}
			if !slices.Equal(v.Components, w.Components) && len(v.Components)+len(w.Components) > 0 {
				t.Errorf("components = %v, want %v", v.Components, w.Components)
			}
			if len(v.Conflicts) != w.Conflicts {
				t.Errorf("%d conflicts, want %d: %q", len(v.Conflicts), w.Conflicts, v.Conflicts)
			}
			for _, s := range w.ConflictHas {
				if !slices.ContainsFunc(v.Conflicts, func(c string) bool { return strings.Contains(c, s) }) {
					t.Errorf("no conflict mentions %q: %q", s, v.Conflicts)
				}
			}
			for _, s := range w.NotesHas {
				if !slices.ContainsFunc(v.Notes, func(c string) bool { return strings.Contains(c, s) }) {
					t.Errorf("no note mentions %q: %q", s, v.Notes)
				}
			}
			if len(w.Review) == 0 && v.Undetermined() {
				t.Errorf("under review, want a verdict: %q", v.Review)
			}
			for _, s := range w.Review {
				if !slices.ContainsFunc(v.Review, func(c string) bool { return strings.Contains(c, s) }) {
					t.Errorf("no review reason mentions %q: %q", s, v.Review)
				}
			}
			if len(w.Candidates) > 0 && !slices.Equal(slices.Sorted(slices.Values(v.Candidates)), slices.Sorted(slices.Values(w.Candidates))) {
				t.Errorf("candidates = %v, want %v", v.Candidates, w.Candidates)
			}
			rules := map[string]bool{}
			for _, e := range v.Evidence {
				rules[e.Rule] = true
			}
			for _, r := range w.Rules {
				if !rules[r] {
					t.Errorf("rule %s not in evidence", r)
				}
			}
			for _, r := range w.NotRules {
				if rules[r] {
					t.Errorf("rule %s in evidence, want it absent", r)
				}
			}
			if t.Failed() {
				t.Logf("verdict:\n%s", classify.Explain(v))
			}
		})
	}
}

func TestGoldenCoversEveryProfile(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range loadGolden(t) {
		covered[c.Profile] = true
	}
	for name := range profileMap(t) {
		if !covered[name] {
			t.Errorf("camsim profile %q has no golden case in testdata/golden.yaml", name)
		}
	}
}

// Whatever the facts, an Axis-behaving device with a Hikvision OUI must
// never come out Hikvision above weak.
func TestSpoofedOUINeverAboveWeak(t *testing.T) {
	profiles := profileMap(t)
	for _, c := range loadGolden(t) {
		if c.Want.Maker != "axis" || c.Want.Confidence != "strong" {
			continue
		}
		in := c.input(t, profiles)
		in.MAC = net.HardwareAddr{0x44, 0x19, 0xb6, 0, 0, 1}
		v := classify.Classify(nil, in)
		if v.Maker != "axis" || v.Confidence != classify.Strong {
			t.Errorf("%s with Hikvision OUI: %s/%s, want axis/strong", c.Name, v.Maker, v.Confidence)
		}
		for _, e := range v.Evidence {
			if e.Maker == "hikvision" && e.Strength > classify.Weak {
				t.Errorf("%s: hikvision evidence at %s: %+v", c.Name, e.Strength, e)
			}
		}
		if len(v.Conflicts) == 0 {
			t.Errorf("%s: no conflict reported", c.Name)
		}
	}
}
