package dvrip

import (
	"bytes"
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

func TestGolden(t *testing.T) {
	if !bytes.Equal(BuildSearch(), golden(t, "search.bin")) || !IsSearch(BuildSearch()) {
		t.Errorf("search %x", BuildSearch())
	}
	r, err := ParseReply(golden(t, "reply-layout-current.bin"))
	if err != nil {
		t.Fatal(err)
	}
	m := factMap(r.Facts())
	want := map[string]string{"dvrip.seen": "reply", "dvrip.model": "IPC-HFW2431S-S-S2", "dvrip.serial": "6G0ABCD1234567", "dvrip.mac": "3c:ef:8c:c4:00:01", "dvrip.ipv4": "198.18.1.11"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if len(m) != len(want) || r.IP != netip.MustParseAddr("198.18.1.11") || r.DeviceType != "IPC-HFW2431S" || r.Value("Vendor") != "General" {
		t.Errorf("%+v %v", r, m)
	}
	r2, err := ParseReply(r.Marshal())
	if err != nil || !bytes.Equal(r2.Marshal(), r.Marshal()) {
		t.Errorf("round trip %+v %v", r2, err)
	}

	old, err := ParseReply(golden(t, "reply-layout-onebyte.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if m := factMap(old.Facts()); m["dvrip.model"] != "DH-NVR4104" || m["dvrip.mac"] != "90:02:a9:12:34:56" || m["dvrip.serial"] != "" {
		t.Errorf("one-byte layout: %v", m)
	}
}

func TestRejectsAndConservative(t *testing.T) {
	good := golden(t, "reply-layout-current.bin")
	for name, b := range map[string][]byte{"empty": nil, "search": BuildSearch(), "text": []byte("hello")} {
		if _, err := ParseReply(b); !errors.Is(err, ErrNotReply) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, b := range map[string][]byte{"header": good[:100], "sections": good[:len(good)-3]} {
		if _, err := ParseReply(b); !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Binary junk where text belongs is left out, not reported garbled.
	b := append([]byte(nil), good...)
	copy(b[40:], []byte{0x01, 0xff, 0xfe})
	copy(b[HeaderSize:], "zz:zz")
	r, err := ParseReply(b)
	if err != nil {
		t.Fatal(err)
	}
	if m := factMap(r.Facts()); m["dvrip.model"] != "" || m["dvrip.mac"] != "" || m["dvrip.seen"] != "reply" {
		t.Errorf("garbled fields reported: %v", m)
	}
}

func TestDecoder(t *testing.T) {
	var got []probes.Observation
	sink := func(o probes.Observation) { got = append(got, o) }
	mac := net.HardwareAddr{0x3c, 0xef, 0x8c, 0xc4, 0, 1}
	f := &probes.Frame{Src: mac, SrcIP: netip.MustParseAddr("198.18.1.11"), IPProto: probes.ProtoUDP, SrcPort: Port, DstPort: 40000, Payload: golden(t, "reply-layout-current.bin")}
	if err := (Decoder{}).Decode(f, sink); err != nil {
		t.Fatal(err)
	}
	s := &probes.Frame{IPProto: probes.ProtoUDP, SrcPort: 40000, DstPort: Port, Payload: BuildSearch()}
	if err := (Decoder{}).Decode(s, sink); err != nil {
		t.Fatal(err)
	}
	bad := *f
	bad.Payload = bad.Payload[:50]
	if err := (Decoder{}).Decode(&bad, sink); err == nil {
		t.Error("truncated reply without error")
	}
	if len(got) != 1 || got[0].Probe != "dvrip" || factMap(got[0].Facts)["dvrip.serial"] != "6G0ABCD1234567" {
		t.Errorf("%+v", got)
	}
}

func TestBroadcastAddr(t *testing.T) {
	for in, want := range map[string]string{"198.18.1.0/24": "198.18.1.255", "198.18.0.0/15": "198.19.255.255", "10.1.2.3/30": "10.1.2.3"} {
		b, ok := broadcast(netip.MustParsePrefix(in))
		if !ok || b.String() != want {
			t.Errorf("%s: %v %v", in, b, ok)
		}
	}
	for _, in := range []string{"198.18.1.1/32", "0.0.0.0/0", "fe80::/64"} {
		if _, ok := broadcast(netip.MustParsePrefix(in)); ok {
			t.Errorf("%s: broadcast to it allowed", in)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	f.Add(golden(f, "reply-layout-current.bin"))
	f.Add(golden(f, "reply-layout-onebyte.bin"))
	f.Add(golden(f, "search.bin"))
	// Replies naming another device, or nobody.
	f.Add(Reply{DeviceType: "IPC", MAC: "00:40:8c:12:34:56", IP: netip.MustParseAddr("198.18.1.77")}.Marshal())
	f.Add(Reply{DeviceType: "IPC", MAC: "00:00:00:00:00:00"}.Marshal())
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
			if len(r.Values) > maxLines {
				t.Fatalf("%d lines", len(r.Values))
			}
		}
		_ = (Decoder{}).Decode(&probes.Frame{IPProto: probes.ProtoUDP, SrcPort: Port, Payload: b}, func(probes.Observation) {})
	})
}
