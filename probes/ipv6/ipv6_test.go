package ipv6_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/ipv6"
	"github.com/camwarden/camwarden/probes/probetest"
)

func TestEUI64MAC(t *testing.T) {
	cases := []struct {
		addr, mac string
	}{
		{"fe80::5a50:edff:fec4:1", "58:50:ed:c4:00:01"},
		{"fe80::c4:7eff:fe57:2", "02:c4:7e:57:00:02"},
		{"fe80::2e0:4cff:fe68:1", "00:e0:4c:68:00:01"},
		{"fe80::1", ""},                    // manually configured
		{"fe80::b5e3:21c4:9a0f:77d2", ""},  // RFC 7217 stable-opaque
		{"2001:db8::5a50:edff:fec4:1", ""}, // global: may be a privacy or static address
		{"fe80:1::5a50:edff:fec4:1", ""},   // outside fe80::/64
		{"fe80::300:ff:fe00:0", ""},        // group bit set after the flip
		{"fe80::200:ff:fe00:0", ""},        // all-zero MAC
		{"::ffff:198.18.1.1", ""},          // IPv4-mapped
		{"198.18.1.1", ""},
	}
	for _, c := range cases {
		mac, ok := ipv6.EUI64MAC(netip.MustParseAddr(c.addr))
		if c.mac == "" {
			if ok {
				t.Errorf("%s: recovered %s from a non-EUI-64 address", c.addr, mac)
			}
			continue
		}
		if !ok || mac.String() != c.mac {
			t.Errorf("%s: got %s %v, want %s", c.addr, mac, ok, c.mac)
		}
	}
}

func TestDecoderGolden(t *testing.T) {
	cases := []struct{ file, src, mac string }{
		{"rs-eui64.hex", "58:50:ed:c4:00:01", "58:50:ed:c4:00:01"},
		{"rs-eui64-local.hex", "02:c4:7e:57:00:02", "02:c4:7e:57:00:02"},
	}
	for _, c := range cases {
		_, obs, err := probetest.Decode(t, ipv6.Decoder{}, capture.Packet{Data: probetest.GoldenHex(t, c.file), VLAN: 12})
		if err != nil {
			t.Fatal(err)
		}
		if len(obs) != 1 || obs[0].MAC.String() != c.src || obs[0].VLAN != 12 || !obs[0].IP.IsLinkLocalUnicast() ||
			obs[0].Facts[0] != (probes.Fact{Key: "ipv6.eui64", Value: c.mac}) {
			t.Errorf("%s: %+v", c.file, obs)
		}
	}
}

func TestDecoderIgnoresOthers(t *testing.T) {
	f := probes.Frame{EtherType: probes.EtherTypeIPv6, Src: net.HardwareAddr{2, 0, 0, 0, 0, 1}, SrcIP: netip.MustParseAddr("fe80::1")}
	if err := (ipv6.Decoder{}).Decode(&f, func(probes.Observation) { t.Fatal("emitted") }); err != nil {
		t.Fatal(err)
	}
	f = probes.Frame{EtherType: probes.EtherTypeIPv4, Src: net.HardwareAddr{2, 0, 0, 0, 0, 1}, SrcIP: netip.MustParseAddr("198.18.1.1")}
	if err := (ipv6.Decoder{}).Decode(&f, func(probes.Observation) { t.Fatal("emitted") }); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(probetest.GoldenHex(f, "rs-eui64.hex"))
	f.Add(probetest.GoldenHex(f, "rs-eui64-local.hex"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fr probes.Frame
		if capture.Decode(capture.Packet{Data: raw}, &fr) != nil {
			return
		}
		if err := (ipv6.Decoder{}).Decode(&fr, func(o probes.Observation) {
			if len(o.Facts) != 1 || len(o.Facts[0].Value) != 17 {
				t.Fatalf("bad observation %+v", o)
			}
		}); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkDecoder(b *testing.B) {
	probetest.BenchDecoder(b, ipv6.Decoder{}, probetest.GoldenHex(b, "rs-eui64.hex"))
}
