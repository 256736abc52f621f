//go:build linux

package main

import (
	"testing"

	"github.com/camwarden/camwarden/probes/arp"
	"github.com/camwarden/camwarden/probes/dhcp"
)

// The generator's frames must be what the appliance's own decoders accept,
// or the memory run would measure frames the daemon drops.
func TestGeneratedFramesDecode(t *testing.T) {
	mac := genMAC(4242)
	p, err := arp.Parse(arpAnnounce(mac, genIP(4242))[14:])
	if err != nil || p.SenderMAC.String() != mac.String() || p.SenderIP.String() != "198.18.144.243" {
		t.Fatalf("arp: %+v %v", p, err)
	}
	f := dhcpDiscover(mac, 4242)
	if f[12] != 0x08 || f[13] != 0x00 || f[14+9] != 17 {
		t.Fatal("not IPv4/UDP")
	}
	m, err := dhcp.Parse(f[14+20+8:])
	if err != nil || m.Type() != 1 || m.CHAddr.String() != mac.String() || string(m.Options[dhcp.OptHostname]) != "cwgen-004242" ||
		string(m.Options[dhcp.OptVendorClass]) != "udhcp 1.20.2" {
		t.Fatalf("dhcp: %+v %v", m, err)
	}
	if mac[0]&1 != 0 || mac[0]&2 == 0 {
		t.Fatal("generated MAC not unicast and locally administered")
	}
}
