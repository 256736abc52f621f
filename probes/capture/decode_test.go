package capture

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestDecode(t *testing.T) {
	payload := []byte("<Probe/>")
	cases := []struct {
		name  string
		frame []byte
		aux   uint16
		want  probes.Frame
	}{
		{"udp4", udp4(t, frameOpt{}, 40000, 3702, ipB, payload), 0, probes.Frame{
			EtherType: probes.EtherTypeIPv4, SrcIP: netip.MustParseAddr("198.18.1.10"), DstIP: netip.MustParseAddr("198.18.1.2"),
			IPProto: probes.ProtoUDP, SrcPort: 40000, DstPort: 3702, Payload: payload}},
		{"udp4 tagged", udp4(t, frameOpt{vlan: 100}, 40000, 3702, ipB, payload), 0, probes.Frame{
			VLAN: 100, EtherType: probes.EtherTypeIPv4, SrcIP: netip.MustParseAddr("198.18.1.10"), DstIP: netip.MustParseAddr("198.18.1.2"),
			IPProto: probes.ProtoUDP, SrcPort: 40000, DstPort: 3702, Payload: payload}},
		{"udp4 tag from kernel metadata", udp4(t, frameOpt{}, 40000, 3702, ipB, payload), 42, probes.Frame{
			VLAN: 42, EtherType: probes.EtherTypeIPv4, SrcIP: netip.MustParseAddr("198.18.1.10"), DstIP: netip.MustParseAddr("198.18.1.2"),
			IPProto: probes.ProtoUDP, SrcPort: 40000, DstPort: 3702, Payload: payload}},
		{"udp4 ip options", udp4(t, frameOpt{ipOpts: true}, 1, 2, ipB, payload), 0, probes.Frame{
			EtherType: probes.EtherTypeIPv4, SrcIP: netip.MustParseAddr("198.18.1.10"), DstIP: netip.MustParseAddr("198.18.1.2"),
			IPProto: probes.ProtoUDP, SrcPort: 1, DstPort: 2, Payload: payload}},
		{"tcp4", tcp4(t, frameOpt{}, 554, 40000, payload), 0, probes.Frame{
			EtherType: probes.EtherTypeIPv4, SrcIP: netip.MustParseAddr("198.18.1.10"), DstIP: netip.MustParseAddr("198.18.1.2"),
			IPProto: probes.ProtoTCP, SrcPort: 554, DstPort: 40000, Payload: payload}},
		{"udp6", udp6(t, frameOpt{vlan: 5, qinq: true}, 5353, 5353, payload), 0, probes.Frame{
			VLAN: 5, EtherType: probes.EtherTypeIPv6, SrcIP: netip.MustParseAddr("fe80::5a50:edff:fe01:203"), DstIP: netip.MustParseAddr("ff02::fb"),
			IPProto: probes.ProtoUDP, SrcPort: 5353, DstPort: 5353, Payload: payload}},
		{"mld behind hop-by-hop", mld6(t), 0, probes.Frame{
			EtherType: probes.EtherTypeIPv6, SrcIP: netip.MustParseAddr("fe80::5a50:edff:fe01:203"), DstIP: netip.MustParseAddr("ff02::16"),
			IPProto: probes.ProtoICMPv6, Payload: []byte{143, 0, 0, 0, 0, 0, 0, 0}}},
	}
	for _, c := range cases {
		var f probes.Frame
		ts := time.Unix(1700000000, 0)
		if err := Decode(Packet{Data: c.frame, Time: ts, VLAN: c.aux}, &f); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !bytes.Equal(f.Src, macA) || f.Time != ts {
			t.Errorf("%s: src %s time %v", c.name, f.Src, f.Time)
		}
		w := c.want
		if f.VLAN != w.VLAN || f.EtherType != w.EtherType || f.SrcIP != w.SrcIP || f.DstIP != w.DstIP ||
			f.IPProto != w.IPProto || f.SrcPort != w.SrcPort || f.DstPort != w.DstPort || !bytes.Equal(f.Payload, w.Payload) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, f, w)
		}
	}
}

// ARP has no length field: the payload keeps Ethernet padding and the ARP
// decoder reads the fixed 28 bytes.
func TestDecodeARPTagged(t *testing.T) {
	var f probes.Frame
	fr := arpFrame(t, frameOpt{vlan: 3}, 1)
	if err := Decode(Packet{Data: fr}, &f); err != nil {
		t.Fatal(err)
	}
	if f.EtherType != probes.EtherTypeARP || f.VLAN != 3 || len(f.Payload) < 28 || f.Payload[7] != 1 {
		t.Fatalf("got ethertype %#x vlan %d payload %d bytes", f.EtherType, f.VLAN, len(f.Payload))
	}
}

func TestDecodeTruncated(t *testing.T) {
	full := udp4(t, frameOpt{}, 68, 67, ipB, make([]byte, 100))
	for _, n := range []int{0, 13, 14, 20, 33, 34, 40} {
		var f probes.Frame
		err := Decode(Packet{Data: full[:n]}, &f)
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("%d bytes: err %v, want ErrTruncated", n, err)
		}
	}
}

func TestDecodeSrcIsACopy(t *testing.T) {
	fr := arpFrame(t, frameOpt{}, 1)
	var f probes.Frame
	if err := Decode(Packet{Data: fr}, &f); err != nil {
		t.Fatal(err)
	}
	fr[6] = 0xee
	if f.Src[0] != macA[0] {
		t.Fatal("Frame.Src aliases the capture buffer; decoders keeping it would see the next frame")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(udp4(f, frameOpt{vlan: 100}, 40000, 3702, ipB, []byte("<x/>")))
	f.Add(udp6(f, frameOpt{}, 5353, 5353, []byte("dns")))
	f.Add(tcp4(f, frameOpt{}, 554, 40000, []byte("RTSP/1.0")))
	f.Add(mld6(f))
	f.Add(arpFrame(f, frameOpt{vlan: 1, qinq: true}, 2))
	f.Add(lldpFrame(f, frameOpt{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr probes.Frame
		if err := Decode(Packet{Data: data}, &fr); err != nil {
			return
		}
		if len(fr.Payload) > probes.MaxPayload {
			t.Fatalf("payload %d bytes exceeds MaxPayload", len(fr.Payload))
		}
	})
}

// mixed is a traffic mix as the filter passes it: discovery, ARP, ND.
func mixed(b *testing.B) [][]byte {
	return [][]byte{
		arpFrame(b, frameOpt{}, 1),
		udp4(b, frameOpt{}, 68, 67, ipB, make([]byte, 300)),
		udp4(b, frameOpt{vlan: 100}, 3702, 40000, ipB, make([]byte, 1400)),
		icmp6(b, frameOpt{}, 135),
		udp6(b, frameOpt{}, 5353, 5353, make([]byte, 200)),
		lldpFrame(b, frameOpt{}),
	}
}

// BenchmarkDecode measures the hand-rolled decoder; BenchmarkDecodeGopacket
// the same work with gopacket's DecodingLayerParser, to justify the choice.
func BenchmarkDecode(b *testing.B) {
	frames := mixed(b)
	var f probes.Frame
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := Decode(Packet{Data: frames[i%len(frames)]}, &f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func BenchmarkDecodeGopacket(b *testing.B) {
	frames := mixed(b)
	var (
		eth  layers.Ethernet
		dot  layers.Dot1Q
		ip4  layers.IPv4
		ip6  layers.IPv6
		udp  layers.UDP
		tcp  layers.TCP
		arp  layers.ARP
		icmp layers.ICMPv6
		pl   gopacket.Payload
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot, &ip4, &ip6, &udp, &tcp, &arp, &icmp, &pl)
	p.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	var f probes.Frame
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = p.DecodeLayers(frames[i%len(frames)], &decoded)
		// fill the same Frame fields the hand-rolled decoder does
		f = probes.Frame{Src: append(eth.SrcMAC[:0:0], eth.SrcMAC...), Dst: append(eth.DstMAC[:0:0], eth.DstMAC...), EtherType: uint16(eth.EthernetType)}
		for _, l := range decoded {
			switch l {
			case layers.LayerTypeDot1Q:
				f.VLAN, f.EtherType = dot.VLANIdentifier, uint16(dot.Type)
			case layers.LayerTypeIPv4:
				f.SrcIP, _ = netip.AddrFromSlice(ip4.SrcIP)
				f.DstIP, _ = netip.AddrFromSlice(ip4.DstIP)
			case layers.LayerTypeIPv6:
				f.SrcIP, _ = netip.AddrFromSlice(ip6.SrcIP)
				f.DstIP, _ = netip.AddrFromSlice(ip6.DstIP)
			case layers.LayerTypeUDP:
				f.SrcPort, f.DstPort, f.Payload = uint16(udp.SrcPort), uint16(udp.DstPort), udp.Payload
			case layers.LayerTypeARP:
				f.Payload = arp.Contents
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
