package probes_test

import (
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes"
)

func TestInSubnets(t *testing.T) {
	ps := []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/64")}
	for a, want := range map[string]bool{
		"198.18.1.7":        true,
		"198.18.2.7":        false,
		"10.200.0.1":        true,
		"::ffff:198.18.1.9": true, // a dual-stack socket's view of an IPv4 sender
		"::ffff:198.18.3.9": false,
		"fd00::1":           true,
		"fd01::1":           false,
		"127.0.0.1":         false,
	} {
		if got := probes.InSubnets(netip.MustParseAddr(a), ps); got != want {
			t.Errorf("%s: %v, want %v", a, got, want)
		}
	}
	// the documented empty-list rule: no subnets, no restriction
	for _, l := range [][]netip.Prefix{nil, {}} {
		if !probes.InSubnets(netip.MustParseAddr("203.0.113.1"), l) {
			t.Errorf("empty list %#v refused an address", l)
		}
	}
	if probes.InSubnets(netip.Addr{}, ps) {
		t.Error("the zero address matched")
	}
}
