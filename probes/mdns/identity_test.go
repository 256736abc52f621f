package mdns_test

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/mdns"
	"github.com/miekg/dns"
)

// A query describes what its sender wants, and its known-answer section
// (RFC 6762 §7.1) lists records of other hosts it has already heard, here
// a Hikvision camera's. Neither is the sender's: a querier that knows of a
// Hikvision camera gets no observation and no maker, whether it asks from
// 5353 or an ephemeral port, of the group or of one host.
func TestDecoderQueryNamesNoMaker(t *testing.T) {
	b, err := os.ReadFile("testdata/hikvision-cgi.bin")
	if err != nil {
		t.Fatal(err)
	}
	camera, err := mdns.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := mdns.Facts(camera); err != nil || len(fs) == 0 {
		t.Fatalf("the camera's own answer: %v %v", fs, err)
	}
	q := mdns.Query([]string{"_CGI._tcp", "_http._tcp"})
	q.Answer = append(q.Answer, camera.Answer...)
	q.Extra = append(q.Extra, camera.Extra...)
	known, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := mdns.Query(mdns.Services).Pack()
	emit, got := udpdisctest.Sink()
	for _, f := range []probes.Frame{
		{SrcPort: mdns.Port, DstPort: mdns.Port, DstIP: netip.MustParseAddr("224.0.0.251"), Payload: known},
		{SrcPort: 50000, DstPort: mdns.Port, DstIP: netip.MustParseAddr("224.0.0.251"), Payload: known},
		{SrcPort: mdns.Port, DstPort: mdns.Port, DstIP: netip.MustParseAddr("198.18.1.10"), Payload: plain},
	} {
		f.Src, f.SrcIP, f.IPProto = net.HardwareAddr{2, 0, 0, 0, 0, 0x42}, netip.MustParseAddr("198.18.1.2"), probes.ProtoUDP
		if err := (mdns.Decoder{}).Decode(&f, emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(got()) != 0 {
		t.Errorf("a query became observations: %+v", got())
	}
	var m dns.Msg
	if err := m.Unpack(known); err != nil {
		t.Fatal(err)
	}
	if fs, err := mdns.Facts(&m); err == nil || len(fs) != 0 {
		t.Errorf("Facts of a query with known answers: %v, %v", fs, err)
	}
	udpdisctest.NoMaker(t, got())
}
