package sadp

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/probetest"
)

var (
	golden  = probetest.Golden
	factMap = udpdisctest.FactMap
)

func TestParseGoldenReply(t *testing.T) {
	r, err := ParseReply(golden(t, "reply-ds-2cd2385g1-i.xml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sadp.model":        "DS-2CD2385G1-I",
		"sadp.serial":       "DS-2CD2385G1-I20200414AAWRE33842150",
		"sadp.firmware":     "V5.6.2build 190701",
		"sadp.dsp":          "V7.3 build 190626",
		"sadp.mac":          "58:50:ed:1f:e3:85",
		"sadp.ipv4":         "192.168.124.40",
		"sadp.device_type":  "141945",
		"sadp.activated":    "true",
		"sadp.oem_code":     "1",
		"sadp.http_port":    "80",
		"sadp.command_port": "8000",
	}
	got := factMap(r.Facts())
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("facts %v, want exactly %v", got, want)
	}
	if r.IPv4Address != "192.168.124.40" || r.SDKOverTLSPort != "8443" {
		t.Errorf("reply %+v", r)
	}
	// Unknown elements are kept, in order.
	if len(r.Extra) == 0 || r.Extra[0].Name != "IPv6Address" {
		t.Errorf("extra %v", r.Extra)
	}
}

func TestParseHiddenMAC(t *testing.T) {
	r, err := ParseReply(golden(t, "reply-hidden-mac.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if r.MAC != "" || r.HardwareAddr() != nil {
		t.Errorf("MAC %q", r.MAC)
	}
	m := factMap(r.Facts())
	if _, ok := m["sadp.mac"]; ok {
		t.Error("sadp.mac emitted for a reply without MAC")
	}
	if m["sadp.model"] != "CS-C6N-A0-1C2WFR" {
		t.Errorf("facts %v", m)
	}
}

func TestRoundTrip(t *testing.T) {
	r, err := ParseReply(golden(t, "reply-ds-2cd2385g1-i.xml"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := ParseReply(r.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if r.Facts() == nil || !equalFacts(r.Facts(), r2.Facts()) || len(r2.Extra) != len(r.Extra) {
		t.Errorf("round trip changed the reply:\n%+v\n%+v", r, r2)
	}
	q, err := ParseInquiry(BuildInquiry("ABC<&>"))
	if err != nil || q.UUID != "ABC<&>" || q.Types != "inquiry" {
		t.Errorf("inquiry %+v %v", q, err)
	}
	if _, err := ParseReply(BuildInquiry("x")); err == nil {
		t.Error("inquiry parsed as reply")
	}
}

func equalFacts(a, b []probes.Fact) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseRejects(t *testing.T) {
	big := append([]byte("<ProbeMatch><X>"), bytes.Repeat([]byte("a"), MaxMessage)...)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("\x00\x01\x02 hello"),
		"truncated": golden(t, "reply-ds-2cd2385g1-i.xml")[:300],
		"oversized": big,
		"tworoots":  []byte("<ProbeMatch></ProbeMatch><ProbeMatch></ProbeMatch>"),
		"wrongroot": []byte("<Envelope><Uuid>x</Uuid></Envelope>"),
	} {
		if _, err := ParseReply(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	many := "<ProbeMatch>" + strings.Repeat("<A>1</A>", maxElements+1) + "</ProbeMatch>"
	if _, err := ParseReply([]byte(many)); err == nil {
		t.Error("too many elements accepted")
	}
}

func TestDecoder(t *testing.T) {
	mac := net.HardwareAddr{0x58, 0x50, 0xed, 0x1f, 0xe3, 0x85}
	var got []probes.Observation
	sink := func(o probes.Observation) { got = append(got, o) }
	f := &probes.Frame{
		Time: time.Unix(1, 0), Src: mac, IPProto: probes.ProtoUDP,
		SrcIP: netip.MustParseAddr("198.18.1.10"), DstIP: netip.MustParseAddr("239.255.255.250"),
		SrcPort: Port, DstPort: Port, Payload: golden(t, "reply-ds-2cd2385g1-i.xml"),
	}
	if err := (Decoder{}).Decode(f, sink); err != nil {
		t.Fatal(err)
	}
	f2 := *f
	f2.Src = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	f2.SrcIP = netip.MustParseAddr("198.18.1.99")
	f2.SrcPort = 50000
	f2.Payload = golden(t, "inquiry.xml")
	if err := (Decoder{}).Decode(&f2, sink); err != nil {
		t.Fatal(err)
	}
	f3 := f2
	f3.DstPort, f3.SrcPort = 1900, 1900
	if err := (Decoder{}).Decode(&f3, sink); err != nil {
		t.Fatal(err)
	}
	f4 := *f
	f4.Payload = []byte("<ProbeMatch><Uuid>x</Uu")
	if err := (Decoder{}).Decode(&f4, sink); err == nil || !strings.Contains(err.Error(), "198.18.1.10") {
		t.Errorf("truncated reply: err %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d observations: %+v", len(got), got)
	}
	m := factMap(got[0].Facts)
	if m["sadp.seen"] != "reply" || m["sadp.model"] != "DS-2CD2385G1-I" || got[0].MAC.String() != mac.String() || got[0].Probe != "sadp" {
		t.Errorf("reply observation %+v", got[0])
	}
	if m := factMap(got[1].Facts); m["sadp.seen"] != "inquiry" || len(m) != 1 || got[1].IP != f2.SrcIP {
		t.Errorf("inquiry observation %+v", got[1])
	}
}

func FuzzParseReply(f *testing.F) {
	for _, n := range []string{"reply-ds-2cd2385g1-i.xml", "reply-hidden-mac.xml", "inquiry.xml"} {
		f.Add(golden(f, n))
	}
	// Replies naming another device, nobody, or nothing readable.
	for _, c := range [][2]string{{"00-40-8C-12-34-56", "198.18.1.77"}, {"00-00-00-00-00-00", "0.0.0.0"}, {"58-50-ED-1F-E3", "198.18.1.300"}, {"5850ed1fe385", " 198.18.1.10 "}} {
		r, _ := ParseReply(golden(f, "reply-ds-2cd2385g1-i.xml"))
		r.MAC, r.IPv4Address = c[0], c[1]
		f.Add(r.Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := udpdisctest.FuzzSender(b, Port, Port)
		emit, got := udpdisctest.Sink()
		_ = (Decoder{}).Decode(fr, emit)
		udpdisctest.CheckDecoded(t, fr, got())
		r, err := ParseReply(b)
		if err != nil {
			return
		}
		for _, fa := range r.Facts() {
			if len(fa.Value) > probes.MaxFactValue || fa.Value == "" {
				t.Fatalf("bad fact %q", fa)
			}
		}
		udpdisctest.CheckClaims(t, r.Facts())
		// What we build from a parsed reply must parse again.
		if _, err := ParseReply(r.Marshal()); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

func FuzzParseInquiry(f *testing.F) {
	f.Add(golden(f, "inquiry.xml"))
	f.Add(BuildInquiry(NewUUID()))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseInquiry(b)
		if err != nil {
			return
		}
		if _, err := ParseInquiry(BuildInquiry(q.UUID)); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

var readFile = os.ReadFile
