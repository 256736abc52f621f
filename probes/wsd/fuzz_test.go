package wsd

import (
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes"
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
	f.Fuzz(func(t *testing.T, b []byte) {
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
		var d Decoder
		_ = d.Decode(&probes.Frame{SrcIP: netip.MustParseAddr("198.18.1.1"), IPProto: probes.ProtoUDP, SrcPort: Port, DstPort: Port, Payload: b}, func(probes.Observation) {})
		r := &Responder{Target: tg}
		_ = r.Matches(m)
	})
}
