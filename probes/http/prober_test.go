package httpprobe_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	httpprobe "github.com/camwarden/camwarden/probes/http"
	"github.com/camwarden/camwarden/probes/probetest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// collector is a Sink that keeps what it is given.
type collector struct {
	mu  sync.Mutex
	obs []probes.Observation
}

func (c *collector) sink(o probes.Observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.obs = append(c.obs, o)
}

// values returns every value of key across observations of probe.
func (c *collector) values(probe, key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var v []string
	for _, o := range c.obs {
		if o.Probe != probe {
			continue
		}
		for _, f := range o.Facts {
			if f.Key == key {
				v = append(v, f.Value)
			}
		}
	}
	return v
}

func (c *collector) one(t *testing.T, probe, key string) string {
	t.Helper()
	v := c.values(probe, key)
	if len(v) != 1 {
		t.Errorf("%s/%s = %q, want one value", probe, key, v)
		return ""
	}
	return v[0]
}

// offsetDial maps the well-known port the prober asks for to the port the
// emulated device listens on, so the prober runs exactly as in production.
func offsetDial(off int) httpprobe.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(host, strconv.Itoa(p+off)))
	}
}

func runProfile(t *testing.T, p camsim.Profile, ports ...int) camsim.Host {
	t.Helper()
	off, err := camsim.FreeOffset(ports...)
	if err != nil {
		t.Fatal(err)
	}
	h := camsim.Host{IP: loopback, MAC: p.MAC(1), PortOffset: off}
	stop := camsim.Start(p, h, nil)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("camsim: %v", err)
		}
	})
	if err := camsim.WaitListening(h, 3*time.Second, ports...); err != nil {
		t.Fatalf("camsim %s: %v", p.Name, err)
	}
	return h
}

// TestProbeCamsimProfiles runs the prober against every emulated web server
// and checks each fact against the profile, the ground truth.
func TestProbeCamsimProfiles(t *testing.T) {
	ps, err := camsim.Profiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for _, tlsOn := range []bool{false, true} {
			hp, port := p.HTTP, 80
			if tlsOn {
				hp, port = p.HTTPS, 443
			}
			if hp == nil {
				continue
			}
			name := p.Name + map[bool]string{false: "/http", true: "/https"}[tlsOn]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := runProfile(t, p, port)
				pr := &httpprobe.Prober{TLS: tlsOn, Dial: offsetDial(h.PortOffset)}
				var c collector
				if err := pr.Probe(context.Background(), probes.Target{IP: loopback}, c.sink); err != nil {
					t.Fatal(err)
				}
				pre := pr.Name()
				if hp.Server != "" {
					if got := c.one(t, pre, pre+".server"); got != hp.Server {
						t.Errorf("server = %q, want %q", got, hp.Server)
					}
				} else if v := c.values(pre, pre+".server"); v != nil {
					t.Errorf("server = %q, want none", v)
				}
				if hp.Redirect != "" {
					if got := c.one(t, pre, pre+".redirect"); got != hp.Redirect {
						t.Errorf("redirect = %q, want %q", got, hp.Redirect)
					}
				}
				wantTitle := hp.Title
				if hp.Redirect != "" {
					wantTitle = httpprobe.Title([]byte(hp.Bodies[hp.Redirect]))
				}
				if got := c.values(pre, pre+".title"); wantTitle != "" && (len(got) != 1 || got[0] != wantTitle) {
					t.Errorf("title = %q, want %q", got, wantTitle)
				}
				protected := false
				for _, path := range httpprobe.VendorPaths {
					want, ok := hp.Paths[path]
					if !ok {
						want = 404
					}
					protected = protected || want == 401
					if !slices.Contains(c.values(pre, pre+".path"), fmt.Sprintf("%s %d", path, want)) {
						t.Errorf("path facts %q lack %s %d", c.values(pre, pre+".path"), path, want)
					}
				}
				realm := c.values(pre, pre+".realm")
				if protected && hp.Realm != "" && (len(realm) != 1 || realm[0] != hp.Realm) {
					t.Errorf("realm = %q, want %q", realm, hp.Realm)
				}
				if upper := c.values(pre, pre+".header_case"); hp.UpperHeaders != (len(upper) == 1 && upper[0] == "upper") {
					t.Errorf("header_case = %q, upper_headers %v", upper, hp.UpperHeaders)
				}
				if v := hp.Headers["P3P"]; v != "" {
					if got := c.one(t, pre, pre+".p3p"); got != v {
						t.Errorf("p3p = %q, want %q", got, v)
					}
				}
				if strings.Contains(hp.Bodies["/SDK/activateStatus"], "hikvision.com/ver20") {
					if got := c.values(pre, pre+".xmlns"); !slices.Contains(got, "http://www.hikvision.com/ver20/XMLSchema") {
						t.Errorf("xmlns = %q", got)
					}
				}
				if tlsOn {
					if got := c.one(t, "tls", "tls.subject_cn"); got != p.TLS.CommonName {
						t.Errorf("tls.subject_cn = %q, want %q", got, p.TLS.CommonName)
					}
					if got := c.one(t, "tls", "tls.subject_o"); got != p.TLS.Organization {
						t.Errorf("tls.subject_o = %q, want %q", got, p.TLS.Organization)
					}
					if got := c.one(t, "tls", "tls.subject"); !strings.Contains(got, "CN="+p.TLS.CommonName) {
						t.Errorf("tls.subject = %q", got)
					}
				} else if v := c.values("tls", "tls.subject"); v != nil {
					t.Errorf("plain http emitted tls facts %q", v)
				}
			})
		}
	}
}

// TestProbeUnreachable: a closed port is an error and emits nothing.
func TestProbeUnreachable(t *testing.T) {
	port := probetest.FreePort(t)
	var c collector
	err := (&httpprobe.Prober{Port: port}).Probe(context.Background(), probes.Target{IP: loopback}, c.sink)
	if err == nil || len(c.obs) != 0 {
		t.Fatalf("err = %v, obs = %v; want error and nothing", err, c.obs)
	}
}
