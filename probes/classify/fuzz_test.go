package classify

import (
	"net"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes"
)

func FuzzLoadSignatures(f *testing.F) {
	_, docs, err := builtinDocs()
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range docs {
		f.Add(d)
	}
	f.Add([]byte("schema: 1\nsignatures:\n- id: a.b\n  when: [{fact: http.server, regex: '^x+$', ignore_case: true}]\n  maker: acme\n  strength: weak\n  reason: r\n"))
	f.Add([]byte("schema: 1\nsignatures:\n- id: a.b\n  disabled: true\n"))
	f.Add([]byte("schema: 1\nsignatures: &a [*a]\n"))
	f.Add([]byte("{schema: 1, signatures: [{id: x, when: [{fact: a.b, present: false}], component: c, strength: strong, reason: y}]}"))
	in := Input{
		MAC:   net.HardwareAddr{0x44, 0x19, 0xb6, 1, 2, 3},
		Facts: []probes.Fact{probes.F("http.server", "xxx"), probes.F("sadp.seen", "reply"), probes.F("a.b", "v")},
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := LoadSignatures(doc)
		if err != nil {
			if s != nil {
				t.Fatal("set returned with an error")
			}
			return
		}
		checkVerdict(t, Classify(s, in))
		checkVerdict(t, Classify(Default().Merge(s), in))
	})
}

func FuzzClassify(f *testing.F) {
	f.Add([]byte{0x44, 0x19, 0xb6, 0, 0, 1}, "http.title=AXIS\nhttp.realm=AXIS_B8A44F654321\nonvif.manufacturer=AXIS")
	f.Add([]byte{0x3c, 0xef, 0x8c, 0, 0, 1}, "dhip.seen=reply\ndhip.vendor=Lorex\nsadp.seen=reply")
	f.Add([]byte{0x02, 0, 0, 0, 0, 1}, "rtsp.server=HiIpcam\noui.org=Hangzhou Hikvision Digital Technology Co.,Ltd.")
	f.Add([]byte{}, "")
	f.Add([]byte{0xb0, 0xb3, 0x53, 0x61, 0, 0, 0, 0}, "dhcp.hostname=EZVIZ-x\n=\nx")
	set := Default()
	f.Fuzz(func(t *testing.T, mac []byte, facts string) {
		in := Input{MAC: net.HardwareAddr(mac)}
		for _, line := range strings.Split(facts, "\n") {
			k, v, _ := strings.Cut(line, "=")
			in.Facts = append(in.Facts, probes.F(k, v))
		}
		v := Classify(set, in)
		checkVerdict(t, v)
		_ = Explain(v)
		// Pure: the same input gives the same verdict.
		if w := Classify(set, in); Explain(w) != Explain(v) {
			t.Fatalf("not deterministic:\n%s\n%s", Explain(v), Explain(w))
		}
	})
}

// checkVerdict asserts what must hold for every verdict.
func checkVerdict(t *testing.T, v Verdict) {
	t.Helper()
	if v.Confidence > Definitive {
		t.Fatalf("confidence %d out of range", v.Confidence)
	}
	if v.Undetermined() && (v.Maker != "" || v.Confidence != None) {
		t.Fatalf("review verdict names maker %q at %s", v.Maker, v.Confidence)
	}
	// A verdict without a maker has confidence only from a component claim.
	if v.Maker != "" && v.Confidence == None || v.Maker == "" && v.Confidence != None && len(v.Components) == 0 {
		t.Fatalf("maker %q with confidence %s and components %v", v.Maker, v.Confidence, v.Components)
	}
	best := None
	for _, e := range v.Evidence {
		if e.Maker == v.Maker && e.Strength > best {
			best = e.Strength
		}
		if e.Strength > Definitive {
			t.Fatalf("evidence strength %d", e.Strength)
		}
	}
	// Confidence never exceeds the evidence behind it (it may be one
	// lower when equally strong evidence disagrees).
	if v.Maker != "" && (v.Confidence > best || v.Confidence+1 < best) {
		t.Fatalf("confidence %s but best evidence for %s is %s", v.Confidence, v.Maker, best)
	}
	if v.Brand != "" && strings.EqualFold(v.Brand, v.Maker) {
		t.Fatalf("brand %q repeats the maker", v.Brand)
	}
}
