package dhip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/probetest"
)

var (
	golden  = probetest.Golden
	factMap = udpdisctest.FactMap
)

func TestGoldenReply(t *testing.T) {
	r, err := ParseReply(golden(t, "reply-ipc-hdw1431t1-s4.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"dhip.seen":         "reply",
		"dhip.model":        "IPC-HDW1431T1-S4",
		"dhip.class":        "IPC",
		"dhip.serial":       "6C01E93PAG69A7D",
		"dhip.firmware":     "2.800.0000000.13.R",
		"dhip.vendor":       "Private",
		"dhip.manufacturer": "Private",
		"dhip.mac":          "08:ed:ed:87:42:7a",
		"dhip.ipv4":         "192.168.124.17",
		"dhip.http_port":    "80",
	}
	got := factMap(r.Facts())
	if len(got) != len(want) {
		t.Errorf("facts %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if r.Port != "37777" || r.IPv4Address != "192.168.124.17" {
		t.Errorf("%+v", r)
	}
	// Round trip through our own builder.
	r2, err := ParseReply(r.Marshal())
	if err != nil || r2 != r {
		t.Errorf("round trip: %+v %v", r2, err)
	}
}

func TestSearch(t *testing.T) {
	if !bytes.Equal(BuildSearch(), golden(t, "search.bin")) {
		t.Errorf("BuildSearch differs from the documented datagram:\n%q", BuildSearch())
	}
	m, err := Parse(BuildSearch())
	if err != nil || m.Method != MethodSearch {
		t.Errorf("%+v %v", m, err)
	}
	if _, err := ParseReply(BuildSearch()); !errors.Is(err, ErrNotAnswers) {
		t.Errorf("search parsed as reply: %v", err)
	}
}

func TestRejects(t *testing.T) {
	good := golden(t, "reply-ipc-hdw1431t1-s4.bin")
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"short":     {good[:20], ErrTruncated},
		"truncated": {good[:200], ErrTruncated},
		"notdhip":   {mod(func(b []byte) []byte { copy(b[4:], "XXXX"); return b }), ErrNotDHIP},
		"huge": {mod(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[16:], 1<<20)
			binary.LittleEndian.PutUint32(b[24:], 1<<20)
			return b
		}), ErrTooLarge},
		"mismatch": {mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], 10); return b }), ErrLengths},
		"badjson":  {Frame([]byte("{not json")), ErrBadJSON},
		"array":    {Frame([]byte("[1,2]")), ErrBadJSON},
		"noinfo":   {Frame([]byte(`{"method":"client.notifyDevInfo","params":{}}`)), ErrNoDevInfo},
	}
	for name, c := range cases {
		if _, err := ParseReply(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
	// Numbers and strings are both accepted where firmware differs.
	r, err := ParseReply(Frame([]byte(`{"method":"client.notifyDevInfo","mac":"3c-ef-8c-00-00-01","params":{"deviceInfo":{"HttpPort":"8080","DeviceType":123,"Vendor":{"x":1}}}}`)))
	if err != nil || r.HTTPPort != "8080" || r.DeviceType != "123" || r.Vendor != "" || r.HardwareAddr() == nil {
		t.Errorf("%+v %v", r, err)
	}
}

func TestDecoder(t *testing.T) {
	var got []probes.Observation
	sink := func(o probes.Observation) { got = append(got, o) }
	mac := net.HardwareAddr{8, 0xed, 0xed, 0x87, 0x42, 0x7a}
	f := &probes.Frame{Src: mac, SrcIP: netip.MustParseAddr("198.18.1.11"), IPProto: probes.ProtoUDP, SrcPort: Port, DstPort: 50000, Payload: golden(t, "reply-ipc-hdw1431t1-s4.bin")}
	if err := (Decoder{}).Decode(f, sink); err != nil {
		t.Fatal(err)
	}
	search := &probes.Frame{SrcIP: netip.MustParseAddr("198.18.1.2"), IPProto: probes.ProtoUDP, SrcPort: 40000, DstPort: Port, Payload: golden(t, "search.bin")}
	if err := (Decoder{}).Decode(search, sink); err != nil {
		t.Fatal(err)
	}
	other := &probes.Frame{IPProto: probes.ProtoUDP, SrcPort: 53, DstPort: 53, Payload: golden(t, "reply-ipc-hdw1431t1-s4.bin")}
	if err := (Decoder{}).Decode(other, sink); err != nil {
		t.Fatal(err)
	}
	bad := *f
	bad.Payload = bad.Payload[:100]
	if err := (Decoder{}).Decode(&bad, sink); err == nil {
		t.Error("truncated reply decoded without error")
	}
	if len(got) != 1 || got[0].Probe != "dhip" || got[0].MAC.String() != mac.String() || factMap(got[0].Facts)["dhip.vendor"] != "Private" {
		t.Errorf("observations %+v", got)
	}
}

func FuzzParseReply(f *testing.F) {
	f.Add(golden(f, "reply-ipc-hdw1431t1-s4.bin"))
	f.Add(golden(f, "search.bin"))
	f.Add(Reply{MAC: "x", DeviceType: "y", HTTPPort: "80"}.Marshal())
	// Replies naming another device, nobody, or nothing readable.
	f.Add(Reply{MAC: "00:40:8c:12:34:56", IPv4Address: "198.18.1.77", DeviceType: "IPC-HDW1431T1-S4"}.Marshal())
	f.Add(Reply{MAC: "00:00:00:00:00:00", IPv4Address: "0.0.0.0"}.Marshal())
	f.Add(Reply{MAC: "3C-EF-8C-C4-00-01", IPv4Address: "::1"}.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := udpdisctest.FuzzSender(b, Port, 40000)
		emit, got := udpdisctest.Sink()
		_ = (Decoder{}).Decode(fr, emit)
		udpdisctest.CheckDecoded(t, fr, got())
		r, err := ParseReply(b)
		if err == nil {
			udpdisctest.CheckClaims(t, r.Facts())
			for _, fa := range r.Facts() {
				if len(fa.Value) > probes.MaxFactValue || fa.Value == "" {
					t.Fatalf("bad fact %q", fa)
				}
			}
			if _, err := ParseReply(r.Marshal()); err != nil {
				t.Fatalf("re-parse of our own reply: %v", err)
			}
		}
		_ = (Decoder{}).Decode(&probes.Frame{IPProto: probes.ProtoUDP, SrcPort: Port, Payload: b}, func(probes.Observation) {})
	})
}
