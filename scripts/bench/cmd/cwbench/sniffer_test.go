//go:build linux

package main

import (
	"net"
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes/arp"
)

// The active reaction trial starts its clock at the appliance's first
// query: a sweep's ARP request or a discovery probe to a multicast group.
// Replies, unicast traffic and IGMP must not start it.
func TestSnifferQueries(t *testing.T) {
	me := net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	req := arp.Packet{Op: arp.OpRequest, SenderMAC: me, SenderIP: netip.MustParseAddr("198.18.1.2"),
		TargetMAC: make(net.HardwareAddr, 6), TargetIP: netip.MustParseAddr("198.18.1.99")}
	fr, err := req.Frame(arp.Broadcast)
	if err != nil {
		t.Fatal(err)
	}
	reply := req
	reply.Op = arp.OpReply
	rfr, err := reply.Frame(me)
	if err != nil {
		t.Fatal(err)
	}
	ipv4 := func(dst net.HardwareAddr, proto byte) []byte {
		f := make([]byte, 42)
		copy(f, dst)
		copy(f[6:], me)
		f[12], f[13], f[14], f[23] = 0x08, 0x00, 0x45, proto
		return f
	}
	sadp := net.HardwareAddr{0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa} // 239.255.255.250
	for _, c := range []struct {
		name string
		f    []byte
		want bool
	}{
		{"arp request", fr, true},
		{"arp reply", rfr, false},
		{"udp to a multicast group", ipv4(sadp, 17), true},
		{"udp broadcast", ipv4(arp.Broadcast, 17), true},
		{"unicast udp", ipv4(net.HardwareAddr{0x58, 0x50, 0xed, 0, 0, 1}, 17), false},
		{"igmp join", ipv4(sadp, 2), false},
		{"runt", fr[:20], false},
	} {
		if got := isQuery(c.f); got != c.want {
			t.Errorf("%s: isQuery %v, want %v", c.name, got, c.want)
		}
	}
}
