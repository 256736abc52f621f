// Package dhcp reads what devices say about themselves when they ask for an
// address: a bounded parser of BOOTP/DHCPv4 client messages, a passive Decoder
// emitting the hostname (option 12), vendor class (60), parameter request
// list (55), client identifier (61) and FQDN (81), the DHCP fingerprint
// (option 55 order plus vendor class) of DISCOVER and REQUEST, and a builder of the
// DISCOVER/REQUEST a booting device broadcasts (used by camsim).
//
// It must not act as a DHCP server or client on the appliance's network, and
// must not decide a maker from these (often generic) strings: classify does.
package dhcp
