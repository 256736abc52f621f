// Package replay turns an entry of the real-world corpus
// (probes/classify/realworld) into a camsim profile: an emulated device that
// says exactly what the entry records a real device saying, and nothing
// else that could name a maker. The replay lab serves every entry this way,
// in each of three web server behaviours, and the survey must still name
// the maker the entry expects.
package replay

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/classify/realworld"
)

// Mode is how a replayed device's web server answers paths it does not
// have: real servers differ, and path evidence must not depend on it.
type Mode string

const (
	Mode404 Mode = "404" // unknown paths are 404, as most servers do
	Mode200 Mode = "200" // every unknown path is 200 with the root page (single-page web UIs)
	Mode401 Mode = "401" // every path is 401 with the realm (whole site behind Digest auth)
)

// Modes are the three behaviours, in the order reports list them.
var Modes = []Mode{Mode404, Mode200, Mode401}

// ParseMode accepts "404", "200" or "401".
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("replay: mode %q: want 404, 200 or 401", s)
}

// The installer's ONVIF account on every replayed device: the survey is
// given it, as an installer gives camwarden the site's camera password, so
// GetDeviceInformation answers as it does on a configured site.
const (
	ONVIFUser     = "admin"
	ONVIFPassword = "Replay-2026!"
)

// DefaultRealm is the realm of a login whose entry records none (a mode-401
// site, or an entry that kept only the auth scheme): a challenge needs some
// realm, and this one names nobody.
const DefaultRealm = "Login Required"

// SNMPCommunity is the read community of every replayed SNMP agent; the
// survey is configured with it, as SNMP is never asked with a guessed one.
const SNMPCommunity = "replay-ro"

// DHCPRetry is how often a replayed device repeats its DHCP DISCOVER, so a
// survey that starts after the lab is up still hears option 60 and 12.
const DHCPRetry = 500 * time.Millisecond

// mdnsServices is what a replayed mDNS instance advertises: a web UI, the
// most common camera service, and one no rule reads.
var mdnsServices = []string{"_http._tcp"}

// MAC returns the address the lab gives the n-th replayed device: locally
// administered (no OUI registrant to name), unique per n below 65536.
func MAC(n int) string {
	return fmt.Sprintf("06:%02x:%02x:c4:00:01", byte(n>>8), byte(n))
}

// oui is the prefix Profile sets so the lab's Profile.MAC(1) equals MAC(n).
func oui(n int) string { return fmt.Sprintf("06:%02x:%02x", byte(n>>8), byte(n)) }

// Profile builds the emulated device for entry e served in mode; n (1 ..
// 65535) makes its name and MAC unique within a lab. A fact key it cannot
// serve is an error naming the entry and the key.
func Profile(e realworld.Entry, mode Mode, n int) (camsim.Profile, error) {
	if !slices.Contains(Modes, mode) {
		return camsim.Profile{}, fmt.Errorf("replay: entry %s: mode %q: want 404, 200 or 401", e.ID, mode)
	}
	if n < 1 || n > 0xffff {
		return camsim.Profile{}, fmt.Errorf("replay: entry %s: device number %d out of range 1..65535", e.ID, n)
	}
	p := camsim.Profile{
		Name:        fmt.Sprintf("replay-%d-%s", n, e.ID),
		Description: "real-world corpus entry " + e.ID + " (" + e.File + "), server mode " + string(mode),
		Maker:       e.Maker,
		Brand:       e.Brand,
		OUI:         oui(n),
		// The plain web server every replayed device runs, so the mode
		// is tried even where the entry is not an HTTP string.
		HTTP: &camsim.HTTPProfile{},
	}
	if e.Component != "" {
		p.Components = []string{e.Component}
	}
	var unsupported []string
	keys := make([]string, 0, len(e.Facts))
	for k := range e.Facts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !apply(&p, k, e.Facts[k]) {
			unsupported = append(unsupported, k)
		}
	}
	if len(unsupported) > 0 {
		return camsim.Profile{}, &UnsupportedError{Entry: e.ID, Keys: unsupported}
	}
	if p.HTTP.AuthScheme != "" && p.HTTP.Realm == "" {
		// A challenge always carries a realm, and the prober reports the
		// scheme only with one: an entry that recorded the scheme alone
		// gets the realm that names nobody.
		p.HTTP.Realm = DefaultRealm
	}
	if p.VendorClass != "" || p.Hostname != "" {
		p.DHCPRetry = DHCPRetry
	}
	if p.HTTPS != nil && p.TLS == nil {
		// camsim would fill the certificate from Maker and Model, which
		// is ground truth the device must not be seen to say.
		p.TLS = &camsim.TLSProfile{}
	}
	if p.HTTP.Realm != "" {
		// The login challenge is on the root page, where the prober
		// looks first; the page's title still travels in its body.
		p.HTTP.Paths = map[string]int{"/": 401}
	}
	switch mode {
	case Mode200:
		p.HTTP.AnyPath = "200"
	case Mode401:
		p.HTTP.AnyPath = "401"
		if p.HTTP.Realm == "" {
			p.HTTP.Realm = DefaultRealm
		}
		if p.HTTPS != nil {
			// The secure site is the same site: behind the same login.
			p.HTTPS.AnyPath = "401"
			if p.HTTPS.Realm == "" {
				p.HTTPS.Realm = p.HTTP.Realm
				p.HTTPS.AuthScheme = p.HTTP.AuthScheme
			}
		}
		if p.ONVIF != nil {
			// The whole site wants HTTP Digest, the device service
			// included: ONVIF answers a request with the installer's
			// credentials and challenges any other.
			p.ONVIF.Auth = "digest"
		}
	}
	if mode == Mode200 && p.HTTPS != nil {
		p.HTTPS.AnyPath = "200"
	}
	return p, nil
}

// UnsupportedError names the fact keys of an entry no camsim responder can
// serve yet.
type UnsupportedError struct {
	Entry string
	Keys  []string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("replay: entry %s: camsim cannot serve %s", e.Entry, strings.Join(e.Keys, ", "))
}

// apply puts one fact where the emulated device will say it; false when no
// responder can.
func apply(p *camsim.Profile, key, v string) bool {
	https := func() *camsim.HTTPProfile {
		if p.HTTPS == nil {
			p.HTTPS = &camsim.HTTPProfile{}
		}
		return p.HTTPS
	}
	tlsp := func() *camsim.TLSProfile {
		https()
		if p.TLS == nil {
			p.TLS = &camsim.TLSProfile{}
		}
		return p.TLS
	}
	rtsp := func() *camsim.RTSPProfile {
		if p.RTSP == nil {
			p.RTSP = &camsim.RTSPProfile{}
		}
		return p.RTSP
	}
	onvif := func() *camsim.ONVIFProfile {
		if p.ONVIF == nil {
			p.ONVIF = &camsim.ONVIFProfile{User: ONVIFUser, Password: ONVIFPassword, Auth: "wsse"}
			// A real ONVIF device answers WS-Discovery; its scopes here
			// are the generic ones, so only the entry's facts name anyone.
			p.WSD = &camsim.WSDProfile{
				Endpoint: "urn:uuid:5f1e0c2a-7d3b-4c9e-8a41-{mac}",
				Types:    "dn:NetworkVideoTransmitter tds:Device",
				Scopes:   []string{"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming"},
			}
		}
		return p.ONVIF
	}
	snmp := func() *camsim.SNMPProfile {
		if p.SNMP == nil {
			p.SNMP = &camsim.SNMPProfile{Community: SNMPCommunity}
		}
		return p.SNMP
	}
	upnp := func() *camsim.SSDPProfile {
		if p.SSDP == nil {
			p.SSDP = &camsim.SSDPProfile{DeviceType: "urn:schemas-upnp-org:device:Basic:1"}
		}
		return p.SSDP
	}
	switch key {
	case "http.server":
		p.HTTP.Server = v
	case "http.realm":
		p.HTTP.Realm = v
	case "http.auth_scheme":
		p.HTTP.AuthScheme = v
	case "http.title":
		p.HTTP.Title = v
	case "https.server":
		https().Server = v
	case "https.title":
		https().Title = v
	case "tls.subject_o":
		tlsp().Organization = v
	case "tls.subject_cn":
		tlsp().CommonName = v
	case "rtsp.server":
		rtsp().Server = v
	case "rtsp.realm":
		rtsp().Realm = v
	case "onvif.manufacturer":
		onvif().Manufacturer = v
	case "onvif.model":
		onvif().Model = v
	case "onvif.firmware":
		onvif()
		p.Firmware = v
	case "upnp.manufacturer":
		upnp().Manufacturer = v
	case "upnp.model_name":
		upnp().ModelName = v
	case "upnp.model_number":
		upnp().ModelNumber = v
	case "upnp.friendly_name":
		upnp().FriendlyName = v
	case "mdns.instance":
		p.MDNS = &camsim.MDNSProfile{Instance: v, Services: mdnsServices}
	case "dhcp.vendor_class":
		p.VendorClass = v
	case "dhcp.hostname":
		p.Hostname = v
	case "telnet.banner":
		p.Telnet = &camsim.TelnetProfile{Banner: v}
	case "ftp.banner":
		p.FTP = &camsim.FTPProfile{Banner: v}
	case "snmp.sys_descr":
		snmp().SysDescr = v
	case "snmp.sys_object_id":
		snmp().SysObjectID = v
	default:
		return false
	}
	return true
}
