package classify

import (
	"bufio"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/oui"
)

func TestDefaultLoads(t *testing.T) {
	s, err := loadBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() < 80 {
		t.Errorf("only %d built-in rules", s.Len())
	}
	makers := map[string]bool{}
	for _, r := range s.Rules() {
		makers[r.Maker] = true
	}
	for _, m := range []string{"hikvision", "dahua", "huawei", "zte", "hytera", "axis", "hanwha", "bosch", "vivotek", "mobotix", "uniview", "hp"} {
		if !makers[m] {
			t.Errorf("no rule claims %s", m)
		}
	}
}

// Every organisation an OUI rule names must be spelled exactly as in the
// pinned registry copy; a typo (or YAML splitting "Co.,Ltd." at the comma)
// would silently never match.
func TestOUIRulesNameRegisteredOrganisations(t *testing.T) {
	orgs := map[string]bool{}
	for e := range oui.All() {
		orgs[e.Org] = true
	}
	n := 0
	for _, r := range Default().Rules() {
		for _, w := range r.When {
			if w.Fact != FactOUIOrg {
				continue
			}
			if w.In == nil && w.Equals == nil {
				t.Errorf("%s: oui.org must be matched by exact name (in/equals), not prefix or regex", r.ID)
			}
			names := w.In
			if w.Equals != nil {
				names = append(names, *w.Equals)
			}
			for _, o := range names {
				n++
				if !orgs[o] {
					t.Errorf("%s: organisation %q is not in the OUI table", r.ID, o)
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d OUI organisations named", n)
	}
}

// The substring traps of PROTOCOLS.md: similar names must not match.
func TestOUITraps(t *testing.T) {
	for _, org := range []string{
		"Wuxi Zhongxing Optoelectronics Technology Co.,Ltd.",
		"Hangzhou Zhongxinghui Intelligent Technology Co., Ltd.",
		"Shanghai Dahua Scale Factory",
		"Honor Device Co., Ltd.",
		"SHENZHEN HONOR ELECTRONIC CO.,LTD",
		"CP PLUS GMBH & CO. KG",
		"AXIS CORPORATION",
		"Prama India Private Limited",
		"ZTEC Instruments, Inc.",
		"ANHUI WANZTEN P&T CO., LTD",
		"HYESUNG TECHWIN Co., Ltd",
		"Hewlett Packard Enterprise",
	} {
		if hits := matchOUIOrg(org); len(hits) > 0 {
			t.Errorf("organisation %q matched rules %v", org, hits)
		}
	}
}

// matchOUIOrg runs the default rules over an OUI org fact directly (the
// trap names may not all be in the table under a convenient prefix).
func matchOUIOrg(org string) []string {
	var ids []string
	for _, r := range Default().rules {
		if len(r.conds) == 1 && r.conds[0].key == FactOUIOrg && r.conds[0].match(org) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// Rules may only test keys the probes document (FACTS.md) or classify's own
// oui.* facts; a rule on a misspelt key would never fire.
func TestRulesUseDocumentedFactKeys(t *testing.T) {
	f, err := os.Open("../FACTS.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]bool{FactOUIOrg: true, FactOUIPrefix: true, FactOUIBits: true}
	keyRE := regexp.MustCompile("`([a-z0-9_]+\\.[a-z0-9_]+)`")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cell, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, m := range keyRE.FindAllStringSubmatch(cell, -1) {
			known[m[1]] = true
		}
	}
	for _, r := range Default().Rules() {
		keys := append(append(append(append([]string{}, r.BrandFrom...), r.Model...), r.Serial...), r.Firmware...)
		for _, w := range r.When {
			keys = append(keys, w.Fact)
		}
		for _, k := range keys {
			if !known[k] {
				t.Errorf("rule %s uses fact key %q, which probes/FACTS.md does not list", r.ID, k)
			}
		}
	}
}

func TestLoadSignaturesErrorsNameRuleAndField(t *testing.T) {
	const head = "schema: 1\nsignatures:\n"
	ok := "  when: [{fact: http.server, equals: x}]\n  maker: acme\n  strength: weak\n  reason: r\n"
	cases := []struct {
		name, doc, want string
	}{
		{"empty", "", "empty document"},
		{"schema", "schema: 2\nsignatures: []\n", "schema: 2"},
		{"unknown field", head + "- id: a.b\n  colour: red\n" + ok, "colour"},
		{"missing id", head + "- maker: acme\n  when: [{fact: a.b, present: true}]\n  strength: weak\n  reason: r\n", "signature #1: id"},
		{"bad id", head + "- id: A B\n" + ok, "id:"},
		{"duplicate", head + "- id: a.b\n" + ok + "- id: a.b\n" + ok, `"a.b": id: duplicate`},
		{"no when", head + "- id: a.b\n  maker: acme\n  strength: weak\n  reason: r\n", `"a.b": when:`},
		{"bad fact key", head + "- id: a.b\n  when: [{fact: Server, equals: x}]\n  maker: acme\n  strength: weak\n  reason: r\n", `"a.b": when[0].fact`},
		{"two operators", head + "- id: a.b\n  when: [{fact: http.server, equals: x, prefix: y}]\n  maker: acme\n  strength: weak\n  reason: r\n", `"a.b": when[0].fact: http.server needs exactly one`},
		{"no operator", head + "- id: a.b\n  when: [{fact: http.server}]\n  maker: acme\n  strength: weak\n  reason: r\n", "needs exactly one"},
		{"bad regex", head + "- id: a.b\n  when: [{fact: http.server, regex: '(['}]\n  maker: acme\n  strength: weak\n  reason: r\n", `"a.b": when[0].regex`},
		{"empty prefix", head + "- id: a.b\n  when: [{fact: http.server, prefix: ''}]\n  maker: acme\n  strength: weak\n  reason: r\n", `when[0].prefix`},
		{"empty in", head + "- id: a.b\n  when: [{fact: http.server, in: []}]\n  maker: acme\n  strength: weak\n  reason: r\n", `when[0].in`},
		{"no claim", head + "- id: a.b\n  when: [{fact: http.server, equals: x}]\n  strength: weak\n  reason: r\n", `"a.b": maker: a rule must claim`},
		{"bad maker", head + "- id: a.b\n  when: [{fact: http.server, equals: x}]\n  maker: Acme Corp\n  strength: weak\n  reason: r\n", `"a.b": maker:`},
		{"bad strength", head + "- id: a.b\n  when: [{fact: http.server, equals: x}]\n  maker: acme\n  strength: certain\n  reason: r\n", `"a.b": strength`},
		{"none strength", head + "- id: a.b\n  when: [{fact: http.server, equals: x}]\n  maker: acme\n  strength: none\n  reason: r\n", `"a.b": strength`},
		{"no reason", head + "- id: a.b\n  when: [{fact: http.server, equals: x}]\n  maker: acme\n  strength: weak\n", `"a.b": reason`},
		{"bad model key", head + "- id: a.b\n  model: [Model]\n" + ok, `"a.b": model[0]`},
		{"brand without maker", head + "- id: a.b\n  when: [{fact: http.server, equals: x}]\n  component: hisilicon\n  brand: X\n  strength: weak\n  reason: r\n", `"a.b": brand`},
		{"too big", head + strings.Repeat("#", MaxSignatureBytes), "bytes"},
	}
	for _, c := range cases {
		_, err := LoadSignatures([]byte(c.doc))
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
	}
	if _, err := LoadSignatures([]byte(head + "- id: a.b\n" + ok)); err != nil {
		t.Errorf("minimal valid document: %v", err)
	}
}

func TestConditionOperators(t *testing.T) {
	doc := `schema: 1
signatures:
- id: t.equals
  when: [{fact: x.a, equals: Foo}]
  maker: eq
  strength: weak
  reason: r
- id: t.fold
  when: [{fact: x.a, equals: foo, ignore_case: true}]
  maker: fold
  strength: weak
  reason: r
- id: t.prefix
  when: [{fact: x.a, prefix: Fo}]
  maker: prefix
  strength: weak
  reason: r
- id: t.regex
  when: [{fact: x.b, regex: '^v\d+$'}]
  maker: regex
  strength: weak
  reason: r
- id: t.and
  when: [{fact: x.a, equals: Foo}, {fact: x.b, present: true}]
  maker: and
  strength: weak
  reason: r
- id: t.absent
  when: [{fact: x.a, present: true}, {fact: x.c, present: false}]
  maker: absent
  strength: weak
  reason: r
- id: t.multi
  when: [{fact: x.m, in: [two, three]}]
  maker: multi
  strength: weak
  reason: r
`
	s, err := LoadSignatures([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	run := func(facts ...string) map[string]bool {
		in := Input{}
		for _, kv := range facts {
			k, v, _ := strings.Cut(kv, "=")
			in.Facts = append(in.Facts, probes.F(k, v))
		}
		got := map[string]bool{}
		for _, e := range Classify(s, in).Evidence {
			got[e.Maker] = true
		}
		return got
	}
	eq := func(got map[string]bool, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("matched %v, want %v", got, want)
			return
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("matched %v, want %v", got, want)
			}
		}
	}
	eq(run("x.a=Foo"), "eq", "fold", "prefix", "absent")
	eq(run("x.a=FOO"), "fold", "absent")
	eq(run("x.a=Foo", "x.b=v12"), "eq", "fold", "prefix", "regex", "and", "absent")
	eq(run("x.a=Foo", "x.c=1"), "eq", "fold", "prefix")
	eq(run("x.b=v1x"))
	eq(run("x.m=one", "x.m=three"), "multi")
	eq(run())
}

func TestMerge(t *testing.T) {
	base := Default()
	extra, err := LoadSignatures([]byte(`schema: 1
signatures:
- id: hikvision.oui
  disabled: true
- id: axis.oui
  when: [{fact: oui.org, equals: "Axis Communications AB"}]
  maker: axis
  strength: strong
  reason: policy trusts Axis prefixes more
- id: site.acme-banner
  when: [{fact: http.server, equals: AcmeCam}]
  maker: acme
  strength: strong
  reason: site-specific camera
`))
	if err != nil {
		t.Fatal(err)
	}
	m := base.Merge(extra)
	if m.Len() != base.Len() { // one removed, one replaced, one added
		t.Errorf("merged %d rules, want %d", m.Len(), base.Len())
	}
	hik := net.HardwareAddr{0x44, 0x19, 0xb6, 1, 2, 3}
	if v := Classify(m, Input{MAC: hik}); v.Maker != "" {
		t.Errorf("disabled hikvision.oui still gives %s", v.Maker)
	}
	if v := Classify(base, Input{MAC: hik}); v.Maker != "hikvision" {
		t.Errorf("Merge changed the base set: %s", v.Maker)
	}
	axis := net.HardwareAddr{0xac, 0xcc, 0x8e, 1, 2, 3}
	if v := Classify(m, Input{MAC: axis}); v.Maker != "axis" || v.Confidence != Strong {
		t.Errorf("overridden axis.oui: %s/%s", v.Maker, v.Confidence)
	}
	if v := Classify(m, Input{Facts: []probes.Fact{probes.F("http.server", "AcmeCam")}}); v.Maker != "acme" {
		t.Errorf("added rule: %q", v.Maker)
	}
	if base.Merge(nil) != base {
		t.Error("Merge(nil) should return the set unchanged")
	}
}
