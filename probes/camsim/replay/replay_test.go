package replay

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/classify/realworld"
)

func entry(facts map[string]string) realworld.Entry {
	return realworld.Entry{ID: "test.entry", Facts: facts, Maker: "axis", File: "test.yaml", Source: "unit test"}
}

// Every key the corpus may use lands in the profile field whose responder
// says it, with the value unchanged.
func TestEveryKeyLands(t *testing.T) {
	const v = "Value 1.0 (x)"
	cases := map[string]func(p camsim.Profile) string{
		"http.server":        func(p camsim.Profile) string { return p.HTTP.Server },
		"http.realm":         func(p camsim.Profile) string { return p.HTTP.Realm },
		"http.title":         func(p camsim.Profile) string { return p.HTTP.Title },
		"https.server":       func(p camsim.Profile) string { return p.HTTPS.Server },
		"https.title":        func(p camsim.Profile) string { return p.HTTPS.Title },
		"tls.subject_o":      func(p camsim.Profile) string { return p.TLS.Organization },
		"tls.subject_cn":     func(p camsim.Profile) string { return p.TLS.CommonName },
		"rtsp.server":        func(p camsim.Profile) string { return p.RTSP.Server },
		"rtsp.realm":         func(p camsim.Profile) string { return p.RTSP.Realm },
		"onvif.manufacturer": func(p camsim.Profile) string { return p.ONVIF.Manufacturer },
		"onvif.model":        func(p camsim.Profile) string { return p.ONVIF.Model },
		"onvif.firmware":     func(p camsim.Profile) string { return p.Firmware },
		"upnp.manufacturer":  func(p camsim.Profile) string { return p.SSDP.Manufacturer },
		"upnp.model_name":    func(p camsim.Profile) string { return p.SSDP.ModelName },
		"upnp.model_number":  func(p camsim.Profile) string { return p.SSDP.ModelNumber },
		"upnp.friendly_name": func(p camsim.Profile) string { return p.SSDP.FriendlyName },
		"mdns.instance":      func(p camsim.Profile) string { return p.MDNS.Instance },
		"dhcp.vendor_class":  func(p camsim.Profile) string { return p.VendorClass },
		"dhcp.hostname":      func(p camsim.Profile) string { return p.Hostname },
		"telnet.banner":      func(p camsim.Profile) string { return p.Telnet.Banner },
		"ftp.banner":         func(p camsim.Profile) string { return p.FTP.Banner },
		"snmp.sys_descr":     func(p camsim.Profile) string { return p.SNMP.SysDescr },
		"snmp.sys_object_id": func(p camsim.Profile) string { return p.SNMP.SysObjectID },
	}
	for _, k := range realworld.AllowedKeys {
		if k == "http.auth_scheme" {
			continue // tested with its realm below
		}
		get, ok := cases[k]
		if !ok {
			t.Errorf("%s: a corpus key this test does not check", k)
			continue
		}
		for _, mode := range Modes {
			p, err := Profile(entry(map[string]string{k: v}), mode, 7)
			if err != nil {
				t.Errorf("%s mode %s: %v", k, mode, err)
				continue
			}
			if got := get(p); got != v {
				t.Errorf("%s mode %s: profile carries %q, want %q", k, mode, got, v)
			}
		}
	}
	p, err := Profile(entry(map[string]string{"http.realm": "cam", "http.auth_scheme": "Basic"}), Mode404, 1)
	if err != nil || p.HTTP.AuthScheme != "Basic" || p.HTTP.Paths["/"] != 401 {
		t.Errorf("realm with Basic: %+v, %v", p.HTTP, err)
	}
}

// The mode decides how the plain web server every replayed device runs
// answers unknown paths, whatever the entry is.
func TestModes(t *testing.T) {
	e := entry(map[string]string{"rtsp.server": "x"})
	for mode, want := range map[Mode]string{Mode404: "", Mode200: "200", Mode401: "401"} {
		p, err := Profile(e, mode, 1)
		if err != nil {
			t.Fatal(err)
		}
		if p.HTTP == nil || p.HTTP.AnyPath != want {
			t.Errorf("mode %s: http %+v, want any_path %q", mode, p.HTTP, want)
		}
		if mode == Mode401 && p.HTTP.Realm != DefaultRealm {
			t.Errorf("mode 401 without an entry realm: realm %q", p.HTTP.Realm)
		}
	}
	// An entry's own realm is the whole site's realm in mode 401, and
	// ONVIF, behind the same login, wants HTTP Digest.
	p, err := Profile(entry(map[string]string{"http.realm": "Mine", "onvif.manufacturer": "M"}), Mode401, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.HTTP.Realm != "Mine" || p.ONVIF.Auth != "digest" || p.WSD == nil {
		t.Errorf("mode 401: realm %q, onvif auth %q, wsd %v", p.HTTP.Realm, p.ONVIF.Auth, p.WSD)
	}
	if _, err := Profile(e, Mode("302"), 1); err == nil {
		t.Error("unknown mode accepted")
	}
	if _, err := ParseMode("401"); err != nil {
		t.Error(err)
	}
}

// Nothing but the entry's facts may name a maker: the MAC is locally
// administered and unique, the certificate is not filled from the ground
// truth, and ONVIF/WS-Discovery carry no name or hardware scope.
func TestNothingElseNamesTheMaker(t *testing.T) {
	seen := map[string]bool{}
	for n := 1; n <= 600; n += 37 {
		p, err := Profile(entry(map[string]string{"https.server": "s", "onvif.model": "m"}), Mode404, n)
		if err != nil {
			t.Fatal(err)
		}
		mac := p.MAC(1)
		if mac.String() != MAC(n) {
			t.Errorf("n=%d: lab MAC %s, MAC(n) %s", n, mac, MAC(n))
		}
		if mac[0]&0x02 == 0 || mac[0]&0x01 != 0 {
			t.Errorf("n=%d: MAC %s is not a locally administered unicast address", n, mac)
		}
		if seen[mac.String()] {
			t.Errorf("n=%d: MAC %s repeats", n, mac)
		}
		seen[mac.String()] = true
		if p.TLS == nil || p.TLS.Organization != "" || p.TLS.CommonName != "" {
			t.Errorf("https without tls facts: certificate %+v would be filled from the ground truth", p.TLS)
		}
		for _, s := range p.WSD.Scopes {
			if strings.Contains(s, "/name/") || strings.Contains(s, "/hardware/") {
				t.Errorf("WS-Discovery scope %q names the device", s)
			}
		}
		if p.Model != "" || p.Serial != "" || p.Maker != "axis" {
			t.Errorf("model %q serial %q maker %q", p.Model, p.Serial, p.Maker)
		}
	}
	if _, err := net.ParseMAC(MAC(65535)); err != nil {
		t.Error(err)
	}
	if _, err := Profile(entry(map[string]string{"http.server": "s"}), Mode404, 0); err == nil {
		t.Error("device number 0 accepted")
	}
}

// A key no responder serves is an error naming the entry and the key.
func TestUnsupportedKey(t *testing.T) {
	_, err := Profile(entry(map[string]string{"lldp.system_name": "x", "http.server": "y"}), Mode404, 1)
	var u *UnsupportedError
	if !errors.As(err, &u) || u.Entry != "test.entry" || !slices.Equal(u.Keys, []string{"lldp.system_name"}) {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "test.entry") || !strings.Contains(err.Error(), "lldp.system_name") {
		t.Errorf("message %q", err)
	}
	p, err := Profile(entry(map[string]string{"http.auth_scheme": "Basic"}), Mode404, 1)
	if err != nil || p.HTTP.Realm != DefaultRealm || p.HTTP.Paths["/"] != 401 {
		t.Errorf("an auth scheme alone: %+v, %v; want a challenge with the neutral realm", p.HTTP, err)
	}
}

// Every real corpus entry converts in every mode, and the generated
// profiles survive the profiles file the lab hands camsim.
func TestCorpusConverts(t *testing.T) {
	entries, err := realworld.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range Modes {
		var ps []camsim.Profile
		for i, e := range entries {
			p, err := Profile(e, mode, i+1)
			if err != nil {
				t.Errorf("mode %s: %v", mode, err)
				continue
			}
			ps = append(ps, p)
		}
		data, err := camsim.MarshalProfiles(ps)
		if err != nil {
			t.Fatal(err)
		}
		back, err := camsim.ParseProfiles(data, "generated")
		if err != nil {
			t.Fatal(err)
		}
		if len(back) != len(ps) {
			t.Fatalf("mode %s: %d profiles back of %d", mode, len(back), len(ps))
		}
		for i := range ps {
			if back[i].Name != ps[i].Name || back[i].MAC(1).String() != ps[i].MAC(1).String() ||
				(ps[i].HTTP.AnyPath != back[i].HTTP.AnyPath) || back[i].DHCPRetry != ps[i].DHCPRetry {
				t.Errorf("mode %s: profile %s does not survive the file", mode, ps[i].Name)
			}
		}
	}
}
