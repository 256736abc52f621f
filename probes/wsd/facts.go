package wsd

import (
	"encoding/hex"
	"net"
	"net/url"
	"strings"

	"github.com/camwarden/camwarden/probes"
)

// onvifScope is the prefix of the ONVIF-defined scopes.
const onvifScope = "onvif://www.onvif.org/"

// Facts turns what an endpoint claims into facts (see probes/FACTS.md).
func (e Endpoint) Facts() []probes.Fact {
	var fs []probes.Fact
	add := func(k, v string) {
		if v != "" && len(fs) < probes.MaxFacts {
			fs = append(fs, probes.F(k, v))
		}
	}
	add("wsd.endpoint", e.Address)
	add("wsd.types", strings.Join(e.Types, " "))
	var mac string
	for _, s := range e.Scopes {
		add("wsd.scope", s)
		kind, val, ok := onvifScopeValue(s)
		if !ok {
			continue
		}
		switch kind {
		case "name":
			add("wsd.name", val)
		case "hardware":
			add("wsd.hardware", val)
		case "location":
			add("wsd.location", val)
		case "mac":
			// An all-zero MAC names no device: no claim.
			if m := normMAC(val); m != "" && m != "00:00:00:00:00:00" && mac == "" {
				mac = m
			}
		}
	}
	if mac == "" && e.isNVT() {
		mac = uuidTailMAC(e.Address)
	}
	add("wsd.mac", mac)
	for _, x := range e.XAddrs {
		add("wsd.xaddr", x)
	}
	return fs
}

// isNVT says whether the endpoint claims to be an ONVIF camera. Only then
// is its UUID tail read as a MAC: PCs (wsdd, Windows) use name-based or
// random UUIDs whose last 12 digits mean nothing.
func (e Endpoint) isNVT() bool {
	for _, t := range e.Types {
		if strings.HasSuffix(t, "NetworkVideoTransmitter") {
			return true
		}
	}
	return false
}

// onvifScopeValue splits onvif://www.onvif.org/<kind>/<value> and returns
// the kind lower-cased and the value URL-unescaped. Devices vary the case
// of the kind (MAC, mac) and of the host.
func onvifScopeValue(s string) (kind, val string, ok bool) {
	if len(s) < len(onvifScope) || !strings.EqualFold(s[:len(onvifScope)], onvifScope) {
		return "", "", false
	}
	kind, raw, ok := strings.Cut(s[len(onvifScope):], "/")
	if !ok || raw == "" {
		return "", "", false
	}
	val, err := url.PathUnescape(raw)
	if err != nil {
		val = raw
	}
	return strings.ToLower(kind), val, true
}

// normMAC accepts a MAC as 12 hex digits or with :, - or . separators.
func normMAC(s string) string {
	if hw, err := net.ParseMAC(s); err == nil && len(hw) == 6 {
		return hw.String()
	}
	clean := strings.NewReplacer(":", "", "-", "", ".", "").Replace(s)
	if len(clean) != 12 {
		return ""
	}
	b, err := hex.DecodeString(clean)
	if err != nil {
		return ""
	}
	return net.HardwareAddr(b).String()
}

// uuidTailMAC returns the last 12 hex digits of an endpoint address as a
// MAC when they look like one: Hikvision (and several OEM firmwares) end the
// endpoint UUID in the device MAC. Random UUIDs also end in 12 hex digits,
// so only unicast, non-zero values of cameras are taken, and the fact stays
// a claim for classify to check against the MAC seen on the wire.
func uuidTailMAC(addr string) string {
	i := strings.LastIndexAny(addr, "-:")
	if i < 0 || len(addr)-i-1 != 12 {
		return ""
	}
	b, err := hex.DecodeString(addr[i+1:])
	if err != nil || b[0]&1 != 0 {
		return ""
	}
	zero := true
	for _, x := range b {
		zero = zero && x == 0
	}
	if zero {
		return ""
	}
	return net.HardwareAddr(b).String()
}
