package udpdisc

import (
	"net"
	"net/netip"
	"strings"
)

// ClaimedMAC renders the MAC a reply names for itself in the one form the
// <probe>.mac facts use (aa:bb:cc:dd:ee:ff, lower case), so the pipeline
// can compare the claim with the sender's MAC and with other devices by
// string. It accepts colon-, dash- and dot-separated forms and 12 bare hex
// digits, and returns "" for anything else and for the all-zero MAC, which
// firmware without a MAC field sends and which names no device.
func ClaimedMAC(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 12 {
		s = s[0:2] + ":" + s[2:4] + ":" + s[4:6] + ":" + s[6:8] + ":" + s[8:10] + ":" + s[10:12]
	}
	hw, err := net.ParseMAC(strings.ReplaceAll(s, "-", ":"))
	if err != nil || len(hw) != 6 {
		return ""
	}
	zero := true
	for _, b := range hw {
		zero = zero && b == 0
	}
	if zero {
		return ""
	}
	return hw.String()
}

// ClaimedIPv4 renders the IPv4 address a reply names for itself in dotted
// decimal (the <probe>.ipv4 facts), or "" when it is not one or is
// 0.0.0.0, which a device without an address sends and which names no
// device.
func ClaimedIPv4(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is4() || a.IsUnspecified() {
		return ""
	}
	return a.String()
}
