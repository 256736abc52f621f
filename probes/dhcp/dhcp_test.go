package dhcp_test

import (
	"encoding/hex"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/dhcp"
	"github.com/camwarden/camwarden/probes/probetest"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

func decodeFrame(t testing.TB, raw []byte) ([]probes.Observation, error) {
	t.Helper()
	_, obs, err := probetest.Decode(t, dhcp.Decoder{}, capture.Packet{Data: raw})
	return obs, err
}

func TestDecoderGolden(t *testing.T) {
	cases := []struct {
		file  string
		mac   string
		facts map[string]string
	}{
		{"udhcpc-discover.hex", "58:50:ed:c4:00:01", map[string]string{
			"dhcp.msg": "discover", "dhcp.hostname": "HIKVISION", "dhcp.vendor_class": "udhcp 1.20.2",
			"dhcp.params": "1,3,6,12,15,28,42", "dhcp.client_id": "015850edc40001",
			"dhcp.fingerprint": "1,3,6,12,15,28,42|udhcp 1.20.2"}},
		{"udhcpc-request.hex", "58:50:ed:c4:00:07", map[string]string{
			"dhcp.msg": "request", "dhcp.hostname": "DS-2CD2385G1-I", "dhcp.vendor_class": "HIKVISION",
			"dhcp.params": "1,3,6,12,15,28,42", "dhcp.client_id": "015850edc40007", "dhcp.fqdn": "cam7.lab.example",
			"dhcp.fingerprint": "1,3,6,12,15,28,42|HIKVISION"}},
	}
	for _, c := range cases {
		obs, err := decodeFrame(t, probetest.GoldenHex(t, c.file))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if len(obs) != 1 || obs[0].MAC.String() != c.mac || obs[0].Probe != "dhcp" || obs[0].IP.IsValid() {
			t.Errorf("%s: observations %+v", c.file, obs)
			continue
		}
		got := probetest.Facts(obs[0])
		for k, v := range c.facts {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q", c.file, k, got[k], v)
			}
		}
		if len(got) != len(c.facts) {
			t.Errorf("%s: facts %v, want %v", c.file, got, c.facts)
		}
	}
}

func TestBuildMatchesUdhcpc(t *testing.T) {
	c := dhcp.Client{MAC: net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0, 1}, XID: 0x7a63680e, Hostname: "HIKVISION", VendorClass: "udhcp 1.20.2"}
	msg, err := c.Message(dhcp.Discover)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := dhcp.ClientFrame(c.MAC, msg)
	if err != nil {
		t.Fatal(err)
	}
	want := probetest.GoldenHex(t, "udhcpc-discover.hex")
	// The same client options in the same order as BusyBox: only the IP
	// identification and the "secs" field may differ.
	if len(fr) != len(want) {
		t.Fatalf("frame %d bytes, udhcpc %d", len(fr), len(want))
	}
	ours, theirs := fr[42:], want[42:]
	if hex.EncodeToString(ours[:8]) != hex.EncodeToString(theirs[:8]) || hex.EncodeToString(ours[10:]) != hex.EncodeToString(theirs[10:]) {
		t.Errorf("built\n%x\nudhcpc\n%x", ours, theirs)
	}
	// an independent parser agrees on every field
	m, err := dhcpv4.FromBytes(msg)
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageType() != dhcpv4.MessageTypeDiscover || m.HostName() != "HIKVISION" || m.ClassIdentifier() != "udhcp 1.20.2" ||
		m.ClientHWAddr.String() != c.MAC.String() || m.IsBroadcast() {
		t.Errorf("dhcpv4 reads %s", m.Summary())
	}
	// and gopacket finds valid IPv4 and UDP checksums
	p := gopacket.NewPacket(fr, layers.LayerTypeEthernet, gopacket.Default)
	ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if ip == nil || udp == nil {
		t.Fatalf("gopacket: %v", p)
	}
	ipc, udpc := ip.Checksum, udp.Checksum
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true},
		ip, udp, gopacket.Payload(udp.Payload)); err != nil {
		t.Fatal(err)
	}
	if ip.Checksum != ipc || udp.Checksum != udpc {
		t.Errorf("checksums ip %04x udp %04x, gopacket computes %04x %04x", ipc, udpc, ip.Checksum, udp.Checksum)
	}
}

func TestRequestCarriesRequestedIP(t *testing.T) {
	c := dhcp.Client{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}, XID: 1, Hostname: "cam", RequestedIP: netip.MustParseAddr("198.18.1.9")}
	msg, err := c.Message(dhcp.Request)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dhcpv4.FromBytes(msg)
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageType() != dhcpv4.MessageTypeRequest || !m.RequestedIPAddress().Equal(net.IP{198, 18, 1, 9}) {
		t.Fatalf("dhcpv4 reads %s", m.Summary())
	}
}

func TestDecoderMalformed(t *testing.T) {
	good := probetest.GoldenHex(t, "udhcpc-discover.hex")
	optStart := 42 + 240
	cases := map[string]func([]byte) []byte{
		"option runs past the end": func(b []byte) []byte { b[optStart+1] = 200; return b[:optStart+40] },
		"length byte missing":      func(b []byte) []byte { return b[:optStart+1] },
		"op 7":                     func(b []byte) []byte { b[42] = 7; return b },
		"reply from client port":   func(b []byte) []byte { b[42] = 2; return b },
		"short header":             func(b []byte) []byte { return b[:42+100] },
		"bad fqdn label": func(b []byte) []byte {
			// replace the end option with an FQDN option whose label overruns
			i := slices.Index(b[optStart:], 255) + optStart
			return append(b[:i], 81, 5, 0x04, 0, 0, 9, 'x', 255)
		},
	}
	for name, mut := range cases {
		raw := mut(append([]byte(nil), good...))
		obs, err := decodeFrame(t, raw)
		if err == nil || len(obs) != 0 {
			t.Errorf("%s: err %v, %d observations", name, err, len(obs))
		}
	}
}

func TestDecoderIgnores(t *testing.T) {
	good := probetest.GoldenHex(t, "udhcpc-discover.hex")
	var f probes.Frame
	if err := capture.Decode(capture.Packet{Data: good}, &f); err != nil {
		t.Fatal(err)
	}
	f.SrcPort, f.DstPort = 67, 68 // a server's reply
	if err := (dhcp.Decoder{}).Decode(&f, func(probes.Observation) { t.Error("emitted for a server reply") }); err != nil {
		t.Fatal(err)
	}
	f.SrcPort, f.DstPort = 68, 67
	f.Payload = f.Payload[:240] // plain BOOTP: no cookie
	copy(f.Payload[236:], []byte{1, 2, 3, 4})
	if err := (dhcp.Decoder{}).Decode(&f, func(probes.Observation) { t.Error("emitted for BOOTP") }); err != nil {
		t.Fatal(err)
	}
}

// TestFingerprintOnlyFromBootMessages builds client messages with the same
// options and checks which carry dhcp.fingerprint.
func TestFingerprintOnlyFromBootMessages(t *testing.T) {
	cases := []struct {
		typ    byte
		vendor string
		params bool
		want   string
	}{
		{dhcp.Discover, "udhcp 1.20.2", true, "1,3,6,12,15,28,42|udhcp 1.20.2"},
		{dhcp.Request, "", true, "1,3,6,12,15,28,42|"},
		{dhcp.Inform, "udhcp 1.20.2", true, ""},
		{dhcp.Release, "udhcp 1.20.2", true, ""},
		{dhcp.Discover, "udhcp 1.20.2", false, ""},
	}
	for _, c := range cases {
		m, err := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 5}), dhcpv4.WithMessageType(dhcpv4.MessageType(c.typ)))
		if err != nil {
			t.Fatal(err)
		}
		if c.vendor != "" {
			m.UpdateOption(dhcpv4.OptClassIdentifier(c.vendor))
		}
		if c.params {
			var codes []dhcpv4.OptionCode
			for _, c := range []uint8{1, 3, 6, 12, 15, 28, 42} {
				codes = append(codes, dhcpv4.GenericOptionCode(c))
			}
			m.UpdateOption(dhcpv4.OptParameterRequestList(codes...))
		} else {
			m.Options.Del(dhcpv4.OptionParameterRequestList)
		}
		fr := probes.Frame{IPProto: probes.ProtoUDP, SrcPort: 68, DstPort: 67, SrcIP: netip.IPv4Unspecified(),
			Src: net.HardwareAddr{2, 0, 0, 0, 0, 5}, Payload: m.ToBytes()}
		var got string
		if err := (dhcp.Decoder{}).Decode(&fr, func(o probes.Observation) { got = probetest.Facts(o)["dhcp.fingerprint"] }); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("type %d vendor %q params %v: fingerprint %q, want %q", c.typ, c.vendor, c.params, got, c.want)
		}
	}
}

func TestFQDNASCII(t *testing.T) {
	n, err := dhcp.FQDN([]byte{0x01, 0, 0, 'c', 'a', 'm', '.', 'x'})
	if err != nil || n != "cam.x" {
		t.Fatalf("%q %v", n, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"udhcpc-discover.hex", "udhcpc-request.hex"} {
		f.Add(probetest.GoldenHex(f, n)[42:])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		fr := probes.Frame{IPProto: probes.ProtoUDP, SrcPort: 68, DstPort: 67, SrcIP: netip.IPv4Unspecified(),
			Src: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Payload: payload}
		_ = (dhcp.Decoder{}).Decode(&fr, func(o probes.Observation) {
			if len(o.Facts) > probes.MaxFacts {
				t.Fatalf("%d facts", len(o.Facts))
			}
			for _, f := range o.Facts {
				if len(f.Value) > probes.MaxFactValue {
					t.Fatalf("fact %s of %d bytes", f.Key, len(f.Value))
				}
			}
		})
	})
}

func BenchmarkDecoder(b *testing.B) {
	probetest.BenchDecoder(b, dhcp.Decoder{}, probetest.GoldenHex(b, "udhcpc-discover.hex"))
}
