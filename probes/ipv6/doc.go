// Package ipv6 recovers MAC addresses from IPv6 link-local addresses formed
// with modified EUI-64 (RFC 4291 appendix A): fe80::XXYY:ZZff:feUU:VVWW
// carries the MAC XX^02:YY:ZZ:UU:VV:WW. A device whose frames arrive through
// a bridge or with a rewritten source MAC still shows its own burnt-in MAC
// here, hence its OUI.
//
// It only reports the recovered MAC (ipv6.eui64). It must ignore privacy and
// stable-opaque interface identifiers (RFC 4941, RFC 7217), which carry no
// MAC, and must not decide anything from the OUI.
package ipv6
