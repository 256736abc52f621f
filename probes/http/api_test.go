package httpprobe_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/classify"
	httpprobe "github.com/camwarden/camwarden/probes/http"
)

// serve runs r on a loopback port and returns the port.
func serve(t *testing.T, r *httpprobe.Responder) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("responder: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("responder did not stop")
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// probeFacts runs the prober the way the appliance does and returns every
// fact it emitted.
func probeFacts(t *testing.T, pr *httpprobe.Prober) []probes.Fact {
	t.Helper()
	var c collector
	if err := pr.Probe(context.Background(), probes.Target{IP: loopback}, c.sink); err != nil {
		t.Fatal(err)
	}
	var facts []probes.Fact
	for _, o := range c.obs {
		facts = append(facts, o.Facts...)
	}
	return facts
}

func factValues(facts []probes.Fact, key string) []string {
	var v []string
	for _, f := range facts {
		if f.Key == key {
			v = append(v, f.Value)
		}
	}
	return v
}

// apiRules are the built-in rules that read the baseline-checked facts.
func apiRules(t *testing.T) map[string]classify.Rule {
	t.Helper()
	m := map[string]classify.Rule{}
	for _, r := range classify.Default().Rules() {
		for _, w := range r.When {
			if strings.HasSuffix(w.Fact, ".api") || strings.Contains(w.Fact, ".favicon_") {
				m[r.ID] = r
			}
		}
	}
	if len(m) == 0 {
		t.Fatal("no http.api rules loaded")
	}
	return m
}

// verdict classifies facts with the built-in signatures, as a device with no
// other evidence and a locally administered MAC.
func verdict(facts []probes.Fact) classify.Verdict {
	return classify.Classify(classify.Default(), classify.Input{MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 1}, Facts: facts})
}

func evidenceRules(v classify.Verdict) []string {
	var ids []string
	for _, e := range v.Evidence {
		ids = append(ids, e.Rule)
	}
	return ids
}

// vendorAPIRules is, per camsim profile, the baseline-checked rules its web
// server must trigger: the profile is the vendor's responder configuration.
var vendorAPIRules = map[string][]string{
	"hikvision":      {"hikvision.isapi-xmlns-api", "hikvision.isapi-usercheck", "hikvision.isapi-api"},
	"hikvision-lts":  {"hikvision.isapi-usercheck", "hikvision.isapi-api"},
	"hikvision-wifi": {"hikvision.isapi-api"},
	"dahua":          {"dahua.rpc2-api", "dahua.rpc2-api-upper"},
	"lorex":          {"dahua.rpc2-api-upper"},
	"amcrest":        {"dahua.rpc2-api-upper"},
	"huawei":         {"huawei.sdcapi-api-https"},
	"axis":           {"axis.vapix-api", "axis.vapix-path-api"},
	"axis-spoofed":   {"axis.vapix-api", "axis.vapix-path-api"},
	"hanwha":         {"hanwha.sunapi-api"},
	"uniview":        {"uniview.lapi-json", "uniview.lapi-api"},
}

// probeProfile runs p's web servers (http and https) with their any_path set
// to mode ("" keeps the profile's) and returns the facts of both.
func probeProfile(t *testing.T, p camsim.Profile, mode string) []probes.Fact {
	t.Helper()
	var facts []probes.Fact
	for _, tlsOn := range []bool{false, true} {
		hp, port := p.HTTP, 80
		if tlsOn {
			hp, port = p.HTTPS, 443
		}
		if hp == nil {
			continue
		}
		if mode != "" {
			c := *hp
			c.AnyPath = mode
			if tlsOn {
				p.HTTPS = &c
			} else {
				p.HTTP = &c
			}
		}
		// Only the web servers: the other responders would only add
		// ports that can collide with other tests'.
		web := camsim.Profile{Name: p.Name, Maker: p.Maker, Model: p.Model, Serial: p.Serial, TLS: p.TLS, HTTP: p.HTTP, HTTPS: p.HTTPS}
		h := runProfile(t, web, port)
		facts = append(facts, probeFacts(t, &httpprobe.Prober{TLS: tlsOn, Dial: offsetDial(h.PortOffset)})...)
	}
	return facts
}

// Every baseline-checked rule fires on its vendor's responder and only
// there; the same devices behind a whole-site 401 give no API facts at all,
// and behind a 200-for-everything fallback only their own maker's.
func TestAPIRulesOnVendorProfiles(t *testing.T) {
	ps, err := camsim.Profiles()
	if err != nil {
		t.Fatal(err)
	}
	rules := apiRules(t)
	fired := map[string]bool{}
	for _, p := range ps {
		if p.HTTP == nil && p.HTTPS == nil {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			facts := probeProfile(t, p, "")
			got := evidenceRules(verdict(facts))
			for _, id := range vendorAPIRules[p.Name] {
				if !slices.Contains(got, id) {
					t.Errorf("rule %s did not fire; api facts %q", id, append(factValues(facts, "http.api"), factValues(facts, "https.api")...))
				}
				fired[id] = true
			}
			for _, id := range got {
				if r, ok := rules[id]; ok && r.Maker != p.Maker {
					t.Errorf("rule %s names %s on a %s device", id, r.Maker, p.Maker)
				}
			}
			if len(factValues(facts, "http.baseline"))+len(factValues(facts, "https.baseline")) == 0 {
				t.Error("no baseline fact")
			}

			// The same configuration over the other scheme exercises the
			// twin rule of each (http.api vs https.api).
			swapped := p
			swapped.HTTP, swapped.HTTPS = p.HTTPS, p.HTTP
			for _, id := range evidenceRules(verdict(probeProfile(t, swapped, ""))) {
				if r, ok := rules[id]; ok {
					if r.Maker != p.Maker {
						t.Errorf("other scheme: rule %s names %s on a %s device", id, r.Maker, p.Maker)
					}
					fired[id] = true
				}
			}

			all401 := probeProfile(t, p, "401")
			if v := append(factValues(all401, "http.api"), factValues(all401, "https.api")...); len(v) > 0 {
				t.Errorf("whole-site 401: api facts %q", v)
			}
			spa := probeProfile(t, p, "200")
			for _, id := range evidenceRules(verdict(spa)) {
				if r, ok := rules[id]; ok && r.Maker != p.Maker {
					t.Errorf("200 for any path: rule %s names %s on a %s device", id, r.Maker, p.Maker)
				}
			}
		})
	}
	for id, r := range rules {
		if strings.Contains(r.When[0].Fact, ".favicon_") || id == "bosch.rcp-api" || strings.HasPrefix(id, "huawei.sdcapi-json") {
			continue // tested below with served icons and JSON answers
		}
		if !fired[id] {
			t.Errorf("rule %s is not exercised by any vendor profile", id)
		}
	}
}

// genericServers are web servers that know no vendor API: not found for
// unknown paths, the same page for every path, Digest on the whole site.
func genericServers() map[string]*httpprobe.Responder {
	return map[string]*httpprobe.Responder{
		"404 for unknown paths": {Server: "lighttpd/1.4.59", Title: "Camera"},
		"200 for every path":    {Server: "lighttpd/1.4.59", Title: "Camera", AnyPath: "200"},
		"401 for every path":    {Server: "lighttpd/1.4.59", Title: "Camera", Realm: "Camera", AnyPath: "401"},
	}
}

func TestAPIRulesSilentOnGenericServers(t *testing.T) {
	rules := apiRules(t)
	for name, r := range genericServers() {
		t.Run(name, func(t *testing.T) {
			facts := probeFacts(t, &httpprobe.Prober{Port: serve(t, r)})
			if v := factValues(facts, "http.api"); len(v) > 0 {
				t.Errorf("api facts %q", v)
			}
			if v := factValues(facts, "http.favicon_mmh3"); len(v) > 0 {
				t.Errorf("favicon facts %q", v)
			}
			if b := factValues(facts, "http.baseline"); len(b) != 1 {
				t.Errorf("baseline = %q, want one", b)
			}
			for _, id := range evidenceRules(verdict(facts)) {
				if _, ok := rules[id]; ok {
					t.Errorf("rule %s fired", id)
				}
			}
			// The old path facts are still emitted, unchanged, for policies.
			if p := factValues(facts, "http.path"); len(p) != len(httpprobe.VendorPaths) {
				t.Errorf("path facts %q", p)
			}
		})
	}
}

// A real Dahua NVR whose web interface answers any path with its index page
// (upper-case headers, Dahua's P3P) was named Huawei when a bare 200 on
// /SDCAPI/V1.0/ counted; it must give no Huawei or Uniview evidence.
func TestDahuaIndexEverywhereNotHuawei(t *testing.T) {
	r := &httpprobe.Responder{
		Title: "WEB SERVICE", UpperHeaders: true, AnyPath: "200",
		Headers: map[string]string{"P3P": "CP=CAO PSA OUR"},
	}
	facts := probeFacts(t, &httpprobe.Prober{Port: serve(t, r)})
	if !slices.Contains(factValues(facts, "http.path"), "/SDCAPI/V1.0/ 200") {
		t.Fatalf("the server did not answer 200 everywhere: %q", factValues(facts, "http.path"))
	}
	if v := factValues(facts, "http.api"); len(v) > 0 {
		t.Errorf("api facts %q", v)
	}
	v := verdict(facts)
	for _, e := range v.Evidence {
		if e.Maker == "huawei" || e.Maker == "uniview" {
			t.Errorf("evidence for %s: %s (%s)", e.Maker, e.Rule, e.Detail)
		}
	}
	if v.Maker != "dahua" {
		t.Errorf("maker = %q, want dahua from the banner", v.Maker)
	}
}

// Huawei's SDCAPI JSON rule and Bosch's RCP rule have no camsim profile that
// carries the body (no public SDCAPI capture is known; /rcp.xml is not a
// vendor path the prober asks by default), so their shape is served here:
// the bodies are synthetic and only carry the shape the rules read.
func TestAPIRulesOnShapedAnswers(t *testing.T) {
	cases := []struct {
		name string
		r    *httpprobe.Responder
		pr   httpprobe.Prober
		rule string
	}{
		{"sdcapi json", &httpprobe.Responder{Paths: map[string]int{"/SDCAPI/V1.0/": 401}, Realm: "x",
			Bodies: map[string]string{"/SDCAPI/V1.0/": `{"synthetic":1}`}}, httpprobe.Prober{}, "huawei.sdcapi-json"},
		{"rcp xml", &httpprobe.Responder{Paths: map[string]int{"/rcp.xml": 200},
			Bodies: map[string]string{"/rcp.xml": `<?xml version="1.0"?><synthetic/>`}}, httpprobe.Prober{Paths: []string{"/rcp.xml"}}, "bosch.rcp-api"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr := c.pr
			pr.Port = serve(t, c.r)
			if got := evidenceRules(verdict(probeFacts(t, &pr))); !slices.Contains(got, c.rule) {
				t.Errorf("rules %q lack %s", got, c.rule)
			}
			// The same answer on every path is no evidence.
			all := *c.r
			all.AnyPath = "401"
			pr.Port = serve(t, &all)
			if got := evidenceRules(verdict(probeFacts(t, &pr))); slices.Contains(got, c.rule) {
				t.Errorf("whole-site 401: %s fired", c.rule)
			}
		})
	}
}

// The favicon is fetched, hashed the Shodan way and matched; a server that
// answers /favicon.ico with its index page, or any path with 401, gives no
// favicon fact.
func TestFavicon(t *testing.T) {
	icon := string([]byte{0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0xde, 0xad, 0xbe, 0xef})
	served := &httpprobe.Responder{Title: "x", Paths: map[string]int{"/favicon.ico": 200}, Bodies: map[string]string{"/favicon.ico": icon}}
	facts := probeFacts(t, &httpprobe.Prober{Port: serve(t, served)})
	if got := factValues(facts, "http.favicon_mmh3"); len(got) != 1 || got[0] != httpprobe.FaviconMMH3([]byte(icon)) {
		t.Errorf("favicon_mmh3 = %q, want %s", got, httpprobe.FaviconMMH3([]byte(icon)))
	}
	if got := factValues(facts, "http.favicon_md5"); len(got) != 1 || got[0] != httpprobe.FaviconMD5([]byte(icon)) {
		t.Errorf("favicon_md5 = %q", got)
	}
	for name, r := range genericServers() {
		r.Paths = map[string]int{"/favicon.ico": 200}
		r.Bodies = map[string]string{"/favicon.ico": r.Title}
		if r.AnyPath == "200" {
			r.Paths, r.Bodies = nil, nil // the index page stands in for the icon
		}
		if got := factValues(probeFacts(t, &httpprobe.Prober{Port: serve(t, r)}), "http.favicon_mmh3"); len(got) > 0 {
			t.Errorf("%s: favicon %q from a page that is no icon", name, got)
		}
	}
	// Rules match the published value as the prober formats it.
	for _, c := range []struct{ hash, maker string }{{"-1466785234", "dahua"}, {"999357577", "hikvision"}} {
		v := verdict([]probes.Fact{probes.F("http.favicon_mmh3", c.hash)})
		if v.Maker != c.maker {
			t.Errorf("favicon %s: maker %q, want %s", c.hash, v.Maker, c.maker)
		}
	}
}

// The baseline path is new for every probe, so a device cannot learn it.
func TestBaselinePathRandom(t *testing.T) {
	a, b := httpprobe.BaselinePath(), httpprobe.BaselinePath()
	if a == b || !strings.HasPrefix(a, "/cw-") || len(a) != len("/cw-")+16 {
		t.Fatalf("baseline paths %q, %q", a, b)
	}
}

type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// However many paths it is given, the prober asks at most MaxPaths requests
// after GET / and one redirect: baseline, vendor paths and favicon included.
func TestRequestsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &httpprobe.Responder{Redirect: "/login.html", Paths: map[string]int{"/login.html": 200}}
	go r.Serve(ctx, cl) //nolint:errcheck // ends with ctx
	paths := make([]string, 3*httpprobe.MaxPaths)
	for i := range paths {
		paths[i] = "/p" + strings.Repeat("x", i)
	}
	probeFacts(t, &httpprobe.Prober{Port: ln.Addr().(*net.TCPAddr).Port, Paths: paths})
	if n := cl.n.Load(); n > httpprobe.MaxPaths+2 {
		t.Fatalf("%d requests, more than %d", n, httpprobe.MaxPaths+2)
	}
}
