package arp_test

import (
	"encoding/hex"
	"net"
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/arp"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/probetest"
)

func decode(t testing.TB, raw []byte, vlan uint16) (probes.Frame, []probes.Observation, error) {
	t.Helper()
	return probetest.Decode(t, arp.Decoder{}, capture.Packet{Data: raw, VLAN: vlan})
}

var (
	cam  = net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0x00, 0x01}
	peer = net.HardwareAddr{0x02, 0xc4, 0x7e, 0x57, 0x00, 0x02}
)

func TestDecoderGolden(t *testing.T) {
	cases := []struct {
		file string
		mac  net.HardwareAddr
		ip   string // "" for none
		op   string
	}{
		{"request.hex", cam, "198.18.1.10", "request"},
		{"reply.hex", peer, "198.18.1.2", "reply"},
		{"gratuitous.hex", cam, "198.18.1.10", "gratuitous"},
		{"probe.hex", cam, "", "probe"},
	}
	for _, c := range cases {
		_, obs, err := decode(t, probetest.GoldenHex(t, c.file), 7)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if len(obs) != 1 {
			t.Errorf("%s: %d observations", c.file, len(obs))
			continue
		}
		o := obs[0]
		wantIP := netip.Addr{}
		if c.ip != "" {
			wantIP = netip.MustParseAddr(c.ip)
		}
		if o.MAC.String() != c.mac.String() || o.IP != wantIP || o.VLAN != 7 || o.Probe != "arp" ||
			len(o.Facts) != 1 || o.Facts[0] != (probes.Fact{Key: "arp.op", Value: c.op}) {
			t.Errorf("%s: got %+v, want mac %s ip %q op %s", c.file, o, c.mac, c.ip, c.op)
		}
	}
}

func TestDecoderIgnoresOthers(t *testing.T) {
	f := probes.Frame{EtherType: probes.EtherTypeIPv4, Payload: []byte{1, 2, 3}}
	if err := (arp.Decoder{}).Decode(&f, func(probes.Observation) { t.Fatal("emitted") }); err != nil {
		t.Fatal(err)
	}
	// ARP for another protocol (hardware type 6, IEEE 802) is not our business
	f = probes.Frame{EtherType: probes.EtherTypeARP, Payload: []byte{0, 6, 8, 0, 6, 4, 0, 1}}
	if err := (arp.Decoder{}).Decode(&f, func(probes.Observation) { t.Fatal("emitted") }); err != nil {
		t.Fatal(err)
	}
}

func TestDecoderMalformed(t *testing.T) {
	good := probetest.GoldenHex(t, "request.hex")
	cases := map[string]func([]byte) []byte{
		"truncated":        func(b []byte) []byte { return b[:14+20] },
		"header only":      func(b []byte) []byte { return b[:14+4] },
		"op 9":             func(b []byte) []byte { b[14+7] = 9; return b },
		"multicast sender": func(b []byte) []byte { b[14+8] = 0x01; return b },
		"zero sender":      func(b []byte) []byte { copy(b[14+8:14+14], make([]byte, 6)); return b },
	}
	for name, mut := range cases {
		raw := mut(append([]byte(nil), good...))
		var f probes.Frame
		if err := capture.Decode(capture.Packet{Data: raw}, &f); err != nil {
			t.Fatal(err)
		}
		err := (arp.Decoder{}).Decode(&f, func(probes.Observation) { t.Errorf("%s: emitted", name) })
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	p := arp.Packet{Op: arp.OpRequest, SenderMAC: cam, SenderIP: netip.MustParseAddr("198.18.1.10"),
		TargetMAC: arp.Broadcast, TargetIP: netip.MustParseAddr("198.18.1.2")} // busybox -b puts ff:ff:.. here
	fr, err := p.Frame(arp.Broadcast)
	if err != nil {
		t.Fatal(err)
	}
	// the busybox request has the same fields: our frame must equal it up to
	// the padding
	want := probetest.GoldenHex(t, "request.hex")
	if hex.EncodeToString(fr[:len(want)]) != hex.EncodeToString(want) {
		t.Fatalf("built\n%x\nbusybox\n%x", fr[:len(want)], want)
	}
	if len(fr) != 60 {
		t.Fatalf("frame %d bytes, want padded 60", len(fr))
	}
	q, err := arp.Parse(fr[14:])
	if err != nil || q.Op != p.Op || q.SenderIP != p.SenderIP || q.TargetIP != p.TargetIP || q.SenderMAC.String() != cam.String() {
		t.Fatalf("round trip: %+v %v", q, err)
	}
}

func FuzzDecoder(f *testing.F) {
	for _, n := range []string{"request.hex", "reply.hex", "gratuitous.hex", "probe.hex"} {
		f.Add(probetest.GoldenHex(f, n)[14:])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		fr := probes.Frame{EtherType: probes.EtherTypeARP, Src: cam, Payload: payload}
		_ = (arp.Decoder{}).Decode(&fr, func(o probes.Observation) {
			if len(o.MAC) != 6 || len(o.Facts) != 1 {
				t.Fatalf("bad observation %+v", o)
			}
		})
	})
}

func BenchmarkDecoder(b *testing.B) {
	probetest.BenchDecoder(b, arp.Decoder{}, probetest.GoldenHex(b, "gratuitous.hex"))
}
