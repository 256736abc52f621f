package capture

import (
	"net/netip"
	"time"
)

// DefaultGroups are the IPv4 multicast groups a live capture joins, so an
// IGMP-snooping switch keeps forwarding discovery traffic to us: SSDP and
// WS-Discovery/SADP (239.255.255.250), DHIP (239.255.255.251) and mDNS
// (224.0.0.251).
var DefaultGroups = []netip.Addr{
	netip.MustParseAddr("239.255.255.250"),
	netip.MustParseAddr("239.255.255.251"),
	netip.MustParseAddr("224.0.0.251"),
}

// Options configure a live capture.
type Options struct {
	Iface string // interface to capture on, e.g. "eth0" or "eth0.20"; required
	// Promiscuous puts the interface into promiscuous mode for as long as the
	// capture is open: needed on a SPAN/mirror port, where the frames are
	// addressed to other hosts.
	Promiscuous bool
	SnapLen     uint32 // bytes kept per frame; DefaultSnapLen when 0
	// Groups are the IPv4 multicast groups to join on Iface. nil means
	// DefaultGroups; an empty non-nil slice joins none.
	Groups []netip.Addr
	// RecvBuffer is the socket receive buffer in bytes (SO_RCVBUF); 0 keeps
	// the kernel default. A bigger buffer rides out bursts (boot storms).
	RecvBuffer int
	// Now stamps frames; time.Now when nil.
	Now func() time.Time
}

// Stats are the kernel's counters for a live capture since it was opened.
type Stats struct {
	Packets uint64 // frames that passed the filter
	Drops   uint64 // frames that passed the filter but found the socket buffer full
}
