package capture

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Test frames are built with gopacket's serializers, an implementation
// independent of the filter and decoder under test.

var (
	macA  = net.HardwareAddr{0x58, 0x50, 0xed, 0x01, 0x02, 0x03}
	macB  = net.HardwareAddr{0x02, 0xc4, 0x7e, 0x57, 0x00, 0x02}
	bcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	ipA   = net.IP{198, 18, 1, 10}
	ipB   = net.IP{198, 18, 1, 2}
	llA   = net.ParseIP("fe80::5a50:edff:fe01:203")
	llB   = net.ParseIP("fe80::1")
)

type frameOpt struct {
	vlan   uint16
	qinq   bool
	frag   uint16 // IPv4 fragment offset (8-byte units)
	ipOpts bool
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func l2(o frameOpt, et layers.EthernetType, src, dst net.HardwareAddr) []gopacket.SerializableLayer {
	eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: et}
	if o.vlan == 0 {
		return []gopacket.SerializableLayer{eth}
	}
	eth.EthernetType = layers.EthernetTypeDot1Q
	if o.qinq {
		eth.EthernetType = layers.EthernetTypeQinQ
	}
	return []gopacket.SerializableLayer{eth, &layers.Dot1Q{VLANIdentifier: o.vlan, Type: et}}
}

func udp4(t testing.TB, o frameOpt, sport, dport uint16, dst net.IP, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ipA, DstIP: dst, FragOffset: o.frag}
	if o.ipOpts {
		ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	ls := append(l2(o, layers.EthernetTypeIPv4, macA, bcast), ip, udp, gopacket.Payload(payload))
	return serialize(t, ls...)
}

func tcp4(t testing.TB, o frameOpt, sport, dport uint16, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: ipA, DstIP: ipB}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1, PSH: true, ACK: true, Window: 1000}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, append(l2(o, layers.EthernetTypeIPv4, macA, macB), ip, tcp, gopacket.Payload(payload))...)
}

func icmp4(t testing.TB) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ipA, DstIP: ipB}
	return serialize(t, append(l2(frameOpt{}, layers.EthernetTypeIPv4, macA, macB), ip,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, gopacket.Payload("ping"))...)
}

func udp6(t testing.TB, o frameOpt, sport, dport uint16, payload []byte) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolUDP, SrcIP: llA, DstIP: net.ParseIP("ff02::fb")}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, append(l2(o, layers.EthernetTypeIPv6, macA, bcast), ip, udp, gopacket.Payload(payload))...)
}

func icmp6(t testing.TB, o frameOpt, typ uint8) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: llA, DstIP: net.ParseIP("ff02::1:ff00:1")}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	_ = ic.SetNetworkLayerForChecksum(ip)
	body := make([]byte, 20) // reserved + target address
	copy(body[4:], llB)
	return serialize(t, append(l2(o, layers.EthernetTypeIPv6, macA, bcast), ip, ic, gopacket.Payload(body))...)
}

// mld6 is an MLDv2 report: ICMPv6 behind a hop-by-hop header.
func mld6(t testing.TB) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolIPv6HopByHop, SrcIP: llA, DstIP: net.ParseIP("ff02::16")}
	hbh := []byte{58, 0, 5, 2, 0, 0, 1, 0} // next ICMPv6, router alert, PadN
	icmp := []byte{143, 0, 0, 0, 0, 0, 0, 0}
	return serialize(t, append(l2(frameOpt{}, layers.EthernetTypeIPv6, macA, bcast), ip, gopacket.Payload(append(hbh, icmp...)))...)
}

func arpFrame(t testing.TB, o frameOpt, op uint16) []byte {
	a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: macA, SourceProtAddress: ipA, DstHwAddress: make([]byte, 6), DstProtAddress: ipB}
	return serialize(t, append(l2(o, layers.EthernetTypeARP, macA, bcast), a)...)
}

func lldpFrame(t testing.TB, o frameOpt) []byte {
	body := []byte{
		0x02, 0x07, 0x04, 0x58, 0x50, 0xed, 0x01, 0x02, 0x03, // chassis id, MAC subtype
		0x04, 0x05, 0x05, 'e', 't', 'h', '0', // port id, interface name
		0x06, 0x02, 0x00, 0x78, // TTL 120
		0x0a, 0x03, 'c', 'a', 'm', // system name
		0x00, 0x00,
	}
	return serialize(t, append(l2(o, layers.EthernetTypeLinkLayerDiscovery, macA, net.HardwareAddr{0x01, 0x80, 0xc2, 0, 0, 0x0e}), gopacket.Payload(body))...)
}

func rawEther(t testing.TB, et uint16) []byte {
	return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetType(et)}, gopacket.Payload(make([]byte, 46)))
}
