package wsd

import (
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
)

// FuzzParse feeds the parser and the fact extraction hostile input: no
// panic, and any accepted message stays within the caps.
func FuzzParse(f *testing.F) {
	for _, g := range []string{"hikvision_probematch.xml", "dahua_probematch_nomac.xml", "wsdd_probematch.xml", "wsdd_hello.xml", "wsdd2_probematch.xml"} {
		if b, err := readGolden(g); err == nil {
			f.Add(b)
		}
	}
	tg := Target{Address: "urn:uuid:a-686dbc5cb15d", Types: "dn:NetworkVideoTransmitter tds:Device", Scopes: []string{"onvif://www.onvif.org/MAC/zz", "onvif://www.onvif.org/name/%zz"}}
	f.Add(BuildProbe("urn:uuid:1", TypeNVT))
	f.Add(BuildProbe("urn:uuid:2"))
	f.Add(BuildHello("urn:uuid:3", nil, tg))
	f.Add(BuildBye("urn:uuid:4", nil, tg))
	f.Add(BuildProbeMatches("urn:uuid:5", "urn:uuid:1", nil, tg))
	// A client's Probe scoped to a maker, and a Hello claiming no MAC.
	f.Add([]byte(strings.Replace(string(BuildProbe("urn:uuid:6", TypeNVT)), "</wsd:Types>", "</wsd:Types><wsd:Scopes>onvif://www.onvif.org/name/HIKVISION onvif://www.onvif.org/MAC/5850ed1fe385</wsd:Scopes>", 1)))
	f.Add(BuildHello("urn:uuid:7", nil, Target{Address: "urn:uuid:a-000000000000", Types: "dn:NetworkVideoTransmitter", Scopes: []string{"onvif://www.onvif.org/MAC/00:00:00:00:00:00"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Whatever the datagram, the decoder speaks only of its sender, and
		// of a Probe's sender only that it asked.
		fr := udpdisctest.FuzzSender(b, Port, Port)
		emit, got := udpdisctest.Sink()
		_ = Decoder{}.Decode(fr, emit)
		udpdisctest.CheckDecoded(t, fr, got())

		m, err := Parse(b)
		if err != nil {
			return
		}
		if len(m.Endpoints) > maxEndpoints || len(m.ProbeTypes) > maxTypes || len(m.ProbeScopes) > maxScopes {
			t.Fatalf("caps exceeded: %d endpoints", len(m.Endpoints))
		}
		for _, e := range m.Endpoints {
			fs := e.Facts()
			if len(fs) > probes.MaxFacts {
				t.Fatalf("%d facts", len(fs))
			}
			for _, x := range fs {
				if len(x.Value) > probes.MaxFactValue {
					t.Fatalf("fact %s too long", x.Key)
				}
			}
		}
		if m.Kind == KindProbe {
			for _, o := range got() {
				if len(o.Facts) != 1 || o.Facts[0] != probes.F("wsd.msg", "probe") {
					t.Fatalf("a Probe's sender got %v", o.Facts)
				}
			}
		}
		r := &Responder{Target: tg}
		_ = r.Matches(m)
	})
}
