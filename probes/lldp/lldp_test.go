package lldp_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/lldp"
	"github.com/camwarden/camwarden/probes/probetest"
)

func decode(t testing.TB, raw []byte) ([]probes.Observation, error) {
	t.Helper()
	_, obs, err := probetest.Decode(t, lldp.Decoder{}, capture.Packet{Data: raw})
	return obs, err
}

func TestDecoderGolden(t *testing.T) {
	obs, err := decode(t, probetest.GoldenHex(t, "lldpd.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 1 || obs[0].MAC.String() != "58:50:ed:c4:00:01" || obs[0].IP != netip.MustParseAddr("198.18.1.10") {
		t.Fatalf("%+v", obs)
	}
	want := map[string]string{
		"lldp.chassis_id": "58:50:ed:c4:00:01", "lldp.port_id": "58:50:ed:c4:00:01",
		"lldp.system_name": "vm", "lldp.system_description": "DS-2CD2385G1-I camera",
	}
	got := probetest.Facts(obs[0])
	if len(got) != len(want) {
		t.Errorf("facts %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	in, err := lldp.Parse(probetest.GoldenHex(t, "lldpd.hex")[14:])
	if err != nil || in.TTL != 120 || in.PortDescription != "eth0" || len(in.MgmtAddrs) != 2 ||
		in.MgmtAddrs[1] != netip.MustParseAddr("fe80::5a50:edff:fec4:1") {
		t.Errorf("parse: %+v %v", in, err)
	}
	obs, err = decode(t, probetest.GoldenHex(t, "lldpd-shutdown.hex"))
	if err != nil || len(obs) != 1 || probetest.Facts(obs[0])["lldp.chassis_id"] != "58:50:ed:c4:00:01" {
		t.Errorf("shutdown frame: %+v %v", obs, err)
	}
}

func tlv(typ byte, v ...byte) []byte {
	return append([]byte{typ<<1 | byte(len(v)>>8), byte(len(v))}, v...)
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestParseTable(t *testing.T) {
	chassisMAC := tlv(1, 4, 0x58, 0x50, 0xed, 1, 2, 3)
	portName := tlv(2, 5, 'p', 'o', 'r', 't', '1')
	ttl := tlv(3, 0, 120)
	end := tlv(0)
	cases := []struct {
		name    string
		pdu     []byte
		chassis string
		port    string
		sysName string
		err     bool
	}{
		{"minimal", cat(chassisMAC, portName, ttl, end), "58:50:ed:01:02:03", "port1", "", false},
		{"padding after end", cat(chassisMAC, portName, ttl, end, make([]byte, 20)), "58:50:ed:01:02:03", "port1", "", false},
		{"no end TLV", cat(chassisMAC, portName, ttl), "58:50:ed:01:02:03", "port1", "", false},
		{"network address chassis", cat(tlv(1, 5, 1, 198, 18, 1, 9), portName, ttl, end), "198.18.1.9", "port1", "", false},
		{"binary locally assigned id", cat(tlv(1, 7, 0x01, 0x02, 0xff), portName, ttl, end), "0102ff", "port1", "", false},
		{"nul-terminated name", cat(chassisMAC, portName, ttl, tlv(5, 'c', 'a', 'm', 0), end), "58:50:ed:01:02:03", "port1", "cam", false},
		{"port id MAC", cat(chassisMAC, tlv(2, 3, 2, 0, 0, 0, 0, 1), ttl, end), "58:50:ed:01:02:03", "02:00:00:00:00:01", "", false},
		{"missing port id", cat(chassisMAC, ttl, end), "", "", "", true},
		{"empty", nil, "", "", "", true},
		{"overrun", cat(chassisMAC, []byte{0x0a, 0x40, 'x'}), "", "", "", true},
		{"half header", cat(chassisMAC, portName, []byte{0x06}), "", "", "", true},
		{"bad ttl", cat(chassisMAC, portName, tlv(3, 1), end), "", "", "", true},
		{"empty chassis", cat(tlv(1), portName, ttl, end), "", "", "", true},
		{"bad mgmt", cat(chassisMAC, portName, ttl, tlv(8, 9, 1, 1), end), "", "", "", true},
	}
	for _, c := range cases {
		in, err := lldp.Parse(c.pdu)
		if c.err {
			if err == nil {
				t.Errorf("%s: no error", c.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if in.ChassisID != c.chassis || in.PortID != c.port || in.SystemName != c.sysName {
			t.Errorf("%s: %+v", c.name, in)
		}
	}
}

func TestDecoderIgnoresOthers(t *testing.T) {
	f := probes.Frame{EtherType: probes.EtherTypeARP, Src: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Payload: []byte{1}}
	if err := (lldp.Decoder{}).Decode(&f, func(probes.Observation) { t.Fatal("emitted") }); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(probetest.GoldenHex(f, "lldpd.hex")[14:])
	f.Add(probetest.GoldenHex(f, "lldpd-shutdown.hex")[14:])
	f.Fuzz(func(t *testing.T, pdu []byte) {
		fr := probes.Frame{EtherType: probes.EtherTypeLLDP, Src: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Payload: pdu}
		_ = (lldp.Decoder{}).Decode(&fr, func(o probes.Observation) {
			if len(o.Facts) > 4 {
				t.Fatalf("%d facts", len(o.Facts))
			}
		})
	})
}

func BenchmarkDecoder(b *testing.B) {
	probetest.BenchDecoder(b, lldp.Decoder{}, probetest.GoldenHex(b, "lldpd.hex"))
}
