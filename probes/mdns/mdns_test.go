package mdns

import (
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/miekg/dns"
)

var update = flag.Bool("update", false, "rewrite testdata golden packets")

// goldenResponders are modelled on PROTOCOLS.md: Hikvision announces
// "HIKVISION <model> - <serial>" under _CGI._tcp/_http._tcp, Axis
// "AXIS <model> - <serial>" under _axis-video._tcp with macaddress= TXT.
var goldenResponders = map[string]*Responder{
	"hikvision-cgi.bin": {Instance: "HIKVISION DS-2CD2385G1-I - 12345", Hostname: "HIKVISION", Services: []string{"_CGI._tcp", "_http._tcp"}, IP: netip.MustParseAddr("198.18.1.10")},
	"axis-video.bin":    {Instance: "AXIS P3245-LVE - ACCC8E123456", Hostname: "axis-accc8e123456", Services: []string{"_axis-video._tcp"}, TXT: []string{"macaddress=ACCC8E123456"}, IP: netip.MustParseAddr("198.18.1.11")},
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenPackets(t *testing.T) {
	for name, r := range goldenResponders {
		if *update {
			b, err := r.announcement().Pack()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		m, err := Parse(readGolden(t, name))
		if err != nil {
			t.Fatal(err)
		}
		facts, err := Facts(m)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, f := range facts {
			got[f.Key] = append(got[f.Key], f.Value)
		}
		if !slices.Equal(got["mdns.instance"], []string{r.Instance}) {
			t.Errorf("%s: instance %q, want %q", name, got["mdns.instance"], r.Instance)
		}
		if !slices.Equal(got["mdns.service"], r.Services) {
			t.Errorf("%s: services %q, want %q", name, got["mdns.service"], r.Services)
		}
		if !slices.Equal(got["mdns.hostname"], []string{r.Hostname}) {
			t.Errorf("%s: hostname %q", name, got["mdns.hostname"])
		}
		if len(r.TXT) > 0 && !slices.Equal(got["mdns.txt"], r.TXT) {
			t.Errorf("%s: txt %q", name, got["mdns.txt"])
		}
	}
}

func TestDecoder(t *testing.T) {
	var obs []probes.Observation
	emit := func(o probes.Observation) { obs = append(obs, o) }
	mac := net.HardwareAddr{0x58, 0x50, 0xed, 1, 2, 3}
	f := &probes.Frame{Src: mac, SrcIP: netip.MustParseAddr("198.18.1.10"), IPProto: probes.ProtoUDP, SrcPort: 5353, DstPort: 5353, Payload: readGolden(t, "hikvision-cgi.bin")}
	if err := (Decoder{}).Decode(f, emit); err != nil {
		t.Fatal(err)
	}
	if len(obs) != 1 || obs[0].Probe != "mdns" || obs[0].MAC.String() != mac.String() || obs[0].IP != f.SrcIP {
		t.Fatalf("obs = %+v", obs)
	}
	q, _ := Query(Services).Pack()
	f.Payload = q
	if err := (Decoder{}).Decode(f, emit); err != nil || len(obs) != 1 {
		t.Errorf("query: err %v, %d obs; want ignored", err, len(obs))
	}
	f.SrcPort, f.Payload = 1900, []byte("M-SEARCH")
	if err := (Decoder{}).Decode(f, emit); err != nil {
		t.Errorf("other port: %v", err)
	}
	f.SrcPort, f.Payload = 5353, []byte{0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0}
	if err := (Decoder{}).Decode(f, emit); err == nil {
		t.Error("garbage: want an error")
	}
	f.Payload = make([]byte, probes.MaxPayload+1)
	if err := (Decoder{}).Decode(f, emit); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("oversized: err %v", err)
	}
}

func TestAnswerUnicastRules(t *testing.T) {
	r := goldenResponders["axis-video.bin"]
	r2 := *r
	r2.Announce = Group
	q := Query([]string{"_axis-video._tcp"})
	q.Id = 77
	legacySrc := netip.MustParseAddrPort("198.18.1.2:40000")
	m, to := r2.Answer(q, legacySrc)
	if m == nil || to != legacySrc || m.Id != 77 || len(m.Question) != 1 {
		t.Fatalf("legacy: %v to %v", m, to)
	}
	q.Question[0].Qclass = dns.ClassINET // QM from port 5353: multicast answer
	if _, to := r2.Answer(q, netip.MustParseAddrPort("198.18.1.2:5353")); to != Group {
		t.Errorf("QM answer to %v, want group", to)
	}
	if m, _ := r2.Answer(Query([]string{"_ipp._tcp"}), legacySrc); m != nil {
		t.Errorf("answered a service it lacks: %v", m)
	}
}

func FuzzParseFacts(f *testing.F) {
	for name := range goldenResponders {
		f.Add(readGolden(f, name))
	}
	q, _ := Query(Services).Pack()
	f.Add(q)
	// A query carrying a Hikvision camera's records as known answers.
	if cam, err := Parse(readGolden(f, "hikvision-cgi.bin")); err == nil {
		kq := Query([]string{"_CGI._tcp"})
		kq.Answer = cam.Answer
		if b, err := kq.Pack(); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		// A query, whatever records it carries, describes no one.
		var obs []probes.Observation
		_ = Decoder{}.Decode(&probes.Frame{IPProto: probes.ProtoUDP, SrcPort: Port, DstPort: Port, Payload: b}, func(o probes.Observation) { obs = append(obs, o) })
		if !m.Response && len(obs) != 0 {
			t.Fatalf("a query became observations: %+v", obs)
		}
		facts, _ := Facts(m)
		if len(facts) > probes.MaxFacts {
			t.Fatalf("%d facts", len(facts))
		}
		for _, fa := range facts {
			if len(fa.Value) > probes.MaxFactValue {
				t.Fatalf("value of %d bytes", len(fa.Value))
			}
		}
		// The responder must survive any query too.
		(&Responder{Instance: "x", Hostname: "h", Services: Services}).Answer(m, netip.MustParseAddrPort("127.0.0.1:1"))
	})
}
