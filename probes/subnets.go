package probes

import "net/netip"

// InSubnets reports whether a lies in one of subnets: the filter every
// Discoverer applies to the answers it hears, since a multicast or
// broadcast socket hears the whole segment and what is outside the link's
// subnets is not ours to report. An IPv4 address in IPv4-mapped IPv6 form
// (as a dual-stack socket reports it) is matched as IPv4.
//
// An empty list does not restrict: it matches every address. A link
// without subnets is one nobody scoped, so a Discoverer that sends must
// refuse it before sending (mdns, arp and dvrip do), and then never gets
// here with one; the rule only decides what a listener that does not send
// hears.
func InSubnets(a netip.Addr, subnets []netip.Prefix) bool {
	if len(subnets) == 0 {
		return true
	}
	a = a.Unmap()
	for _, p := range subnets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
