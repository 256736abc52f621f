package app

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/probes"
)

// ResolveLinks turns the configured interfaces into probe links: the
// interface, its IPv4 address, and the subnets to sweep (the configured ones,
// or the interface's own subnet).
func ResolveLinks(ifaces []config.Interface) ([]probes.Link, error) {
	var links []probes.Link
	for _, c := range ifaces {
		l, err := resolveLink(c.Name, c.Subnets)
		if err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	return links, nil
}

func resolveLink(name string, subnets []string) (probes.Link, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return probes.Link{}, fmt.Errorf("interface %s: %w", name, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return probes.Link{}, fmt.Errorf("interface %s: addresses: %w", name, err)
	}
	l := probes.Link{Iface: ifi}
	var own netip.Prefix
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		if ip4 := ipn.IP.To4(); ip4 != nil {
			ones, _ := ipn.Mask.Size()
			addr := netip.AddrFrom4([4]byte(ip4))
			l.Addr = addr
			own = netip.PrefixFrom(addr, ones).Masked()
			break
		}
	}
	if !l.Addr.IsValid() {
		return probes.Link{}, fmt.Errorf("interface %s has no IPv4 address: give it one (DHCP or static) before probing", name)
	}
	for _, s := range subnets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return probes.Link{}, fmt.Errorf("interface %s: subnet %q: %w", name, s, err)
		}
		l.Subnets = append(l.Subnets, p.Masked())
	}
	if len(l.Subnets) == 0 {
		if own.Bits() < 16 {
			return probes.Link{}, fmt.Errorf("interface %s: own subnet %s is larger than /16; name the camera subnets in the configuration", name, own)
		}
		l.Subnets = []netip.Prefix{own}
	}
	return l, nil
}
