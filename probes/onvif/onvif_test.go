package onvif

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
)

const secret = "Hik12345!"

func hikDevice() *Device {
	return &Device{
		Info:   DeviceInfo{Manufacturer: "HIKVISION", Model: "DS-2CD2385G1-I", FirmwareVersion: "V5.6.5 build 200316", SerialNumber: "DS-2CD2385G1-I20190416AAWRD12345678", HardwareID: "88"},
		MAC:    net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0, 1},
		Scopes: []string{"onvif://www.onvif.org/name/HIKVISION", "onvif://www.onvif.org/hardware/DS-2CD2385G1-I"},
		User:   "admin", Password: secret, Auth: AuthWSSE,
	}
}

// counting wraps a handler and counts requests, so tests can prove how
// many attempts the client made.
type counting struct {
	h http.Handler
	n atomic.Int32
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.n.Add(1); c.h.ServeHTTP(w, r) }

func serve(t *testing.T, h http.Handler) (*httptest.Server, probes.Target) {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	ap := netip.MustParseAddrPort(s.Listener.Addr().String())
	return s, probes.Target{IP: ap.Addr(), Facts: []probes.Fact{
		{Key: "wsd.xaddr", Value: "http://198.18.9.9/onvif/device_service"}, // another host: must be ignored
		{Key: "wsd.xaddr", Value: s.URL + "/onvif/device_service"},
	}}
}

func facts(obs []probes.Observation) map[string][]string {
	m := map[string][]string{}
	for _, o := range obs {
		for _, f := range o.Facts {
			m[f.Key] = append(m[f.Key], f.Value)
		}
	}
	return m
}

func probe(t *testing.T, p *Prober, tg probes.Target) (map[string][]string, error) {
	t.Helper()
	var obs []probes.Observation
	err := p.Probe(context.Background(), tg, func(o probes.Observation) { obs = append(obs, o) })
	if len(obs) > 1 {
		t.Fatalf("%d observations, want at most 1", len(obs))
	}
	return facts(obs), err
}

func TestProberHappyPath(t *testing.T) {
	dev := hikDevice()
	dev.ClockOffset = 3 * time.Hour
	cnt := &counting{h: dev}
	_, tg := serve(t, cnt)
	var logs bytes.Buffer
	p := &Prober{Creds: []Credential{{"admin", "wrong-one"}, {"admin", secret}}, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	f, err := probe(t, p, tg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"onvif.manufacturer": {"HIKVISION"},
		"onvif.model":        {"DS-2CD2385G1-I"},
		"onvif.firmware":     {"V5.6.5 build 200316"},
		"onvif.serial":       {"DS-2CD2385G1-I20190416AAWRD12345678"},
		"onvif.hardware_id":  {"88"},
		"onvif.mac":          {"58:50:ed:c4:00:01"},
		"onvif.scope":        dev.Scopes,
		"onvif.auth":         {"wsse"},
		"onvif.clock_offset": {"3h0m0s"},
	}
	for k, v := range want {
		if !slices.Equal(f[k], v) {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	if len(f["onvif.service"]) != 4 || f["onvif.service"][0] != NSDevice {
		t.Errorf("services %q", f["onvif.service"])
	}
	// clock, plain DeviceInformation, wrong cred, right cred, then 3 calls.
	if n := cnt.n.Load(); n != 7 {
		t.Errorf("%d requests, want 7", n)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "wrong-one") {
		t.Error("a password reached the log")
	}
}

func TestWrongPasswordStillReported(t *testing.T) {
	cnt := &counting{h: hikDevice()}
	_, tg := serve(t, cnt)
	var logs bytes.Buffer
	p := &Prober{Creds: []Credential{{"admin", "nope1"}, {"root", "nope2"}}, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	f, err := probe(t, p, tg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f["onvif.auth"], []string{"refused"}) || f["onvif.clock_offset"] == nil || f["onvif.manufacturer"] != nil {
		t.Errorf("facts %v", f)
	}
	if len(f["onvif.service"]) != 4 {
		t.Errorf("GetServices is pre-auth and should still answer: %v", f["onvif.service"])
	}
	// clock + DeviceInformation (plain + 2 creds) + 3 later calls without
	// credentials: no credential is tried twice (account lockout).
	if n := cnt.n.Load(); n != 7 {
		t.Errorf("%d requests, want 7", n)
	}
	for _, pw := range []string{"nope1", "nope2"} {
		if strings.Contains(logs.String(), pw) {
			t.Errorf("password %q reached the log:\n%s", pw, logs.String())
		}
	}

	c := &Client{XAddr: tg.Facts[1].Value, Creds: p.Creds}
	_, err = c.DeviceInformation(context.Background())
	if !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("want ErrNotAuthorized, got %v", err)
	}
	if msg := fmt.Sprintf("%v %+v %#v", err, err, c.Creds); strings.Contains(msg, "nope") {
		t.Errorf("credential in error or formatting: %s", msg)
	}
}

func TestClockOffsetDecidesWSSE(t *testing.T) {
	dev := hikDevice()
	dev.ClockOffset = 3 * time.Hour
	_, tg := serve(t, dev)
	x := tg.Facts[1].Value
	creds := []Credential{{"admin", secret}}

	// Our own time: the camera is 3 hours ahead and refuses the token.
	ours := &Client{XAddr: x, Creds: creds}
	ours.SetClockOffset(0)
	if _, err := ours.DeviceInformation(context.Background()); !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("token in our time: want ErrNotAuthorized, got %v", err)
	}

	cam := &Client{XAddr: x, Creds: creds}
	if _, err := cam.SystemDateAndTime(context.Background()); err != nil {
		t.Fatal(err)
	}
	off, ok := cam.ClockOffset()
	if !ok || off < 3*time.Hour-2*time.Second || off > 3*time.Hour+2*time.Second {
		t.Fatalf("offset %v", off)
	}
	info, err := cam.DeviceInformation(context.Background())
	if err != nil || info.Manufacturer != "HIKVISION" || cam.Auth() != AuthWSSE {
		t.Fatalf("token in camera time: %+v %v %s", info, err, cam.Auth())
	}
}

func TestHTTPDigestDevice(t *testing.T) {
	dev := &Device{Info: DeviceInfo{Manufacturer: "Dahua", Model: "IPC-HFW2431S-S-S2"}, User: "admin", Password: "Dahua123!", Auth: AuthDigest, Realm: "Login to 6G0ABCD1234567"}
	cnt := &counting{h: dev}
	_, tg := serve(t, cnt)
	f, err := probe(t, &Prober{Creds: []Credential{{"admin", "bad"}, {"admin", "Dahua123!"}}}, tg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f["onvif.auth"], []string{"digest"}) || !slices.Equal(f["onvif.manufacturer"], []string{"Dahua"}) {
		t.Fatalf("facts %v", f)
	}
	// clock, plain(401), bad digest, bad wsse, good digest, then 3 calls.
	if n := cnt.n.Load(); n != 8 {
		t.Errorf("%d requests, want 8", n)
	}
	f, err = probe(t, &Prober{Creds: []Credential{{"admin", "bad"}}}, tg)
	if err != nil || !slices.Equal(f["onvif.auth"], []string{"refused"}) {
		t.Fatalf("wrong digest password: %v %v", f, err)
	}
}

// The digest arithmetic is tested in probes/internal/digest; here, that the
// client takes the Digest challenge among other schemes of a 401.
func TestParseChallengeAmongSchemes(t *testing.T) {
	ch, ok := parseChallenge([]string{`Basic realm="x"`, `Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`})
	if !ok || ch.Realm != "testrealm@host.com" || !ch.QopAuth || ch.Opaque != "5ccc069c403ebaf9f0171e9517f40e41" {
		t.Fatalf("challenge %+v", ch)
	}
}

func TestPasswordDigestVector(t *testing.T) {
	// Vector computed independently: printf 'nonce2024-01-01T00:00:00.000Zsecret' | sha1sum | xxd -r -p | base64
	if got := passwordDigest([]byte("nonce"), "2024-01-01T00:00:00.000Z", "secret"); got != pwDigestVector {
		t.Fatalf("digest %s", got)
	}
}

func faultServer(status int, body string, hdr map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	})
}

func TestFaultsAreTyped(t *testing.T) {
	cases := []struct {
		name   string
		h      http.Handler
		target error
		code   string
	}{
		{"action not supported", faultServer(500, string(FaultEnvelope("env:Receiver", "ter:ActionNotSupported", "Optional Action Not Implemented")), nil), ErrActionNotSupported, "env:Receiver"},
		{"soap 1.1", faultServer(500, string(readGolden(t, "fault_soap11.xml")), nil), ErrActionNotSupported, "ter:ActionNotSupported"},
		{"not authorized 401 with fault", faultServer(401, string(readGolden(t, "fault_notauthorized.xml")), nil), ErrNotAuthorized, "env:Sender"},
		{"401 bare", faultServer(401, "nope", nil), ErrNotAuthorized, ""},
		{"html 404", faultServer(404, "<html><body>Not Found</body></html>", nil), nil, ""},
		{"200 html", faultServer(200, "<html><body>hello</body></html>", nil), ErrNotONVIF, ""},
		{"other fault", faultServer(400, string(FaultEnvelope("env:Sender", "ter:InvalidArgVal", "bad")), nil), nil, "env:Sender"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := httptest.NewServer(c.h)
			defer s.Close()
			cl := &Client{XAddr: s.URL, Creds: []Credential{{"u", "topsecret"}}}
			_, err := cl.DeviceInformation(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if c.target != nil && !errors.Is(err, c.target) {
				t.Errorf("errors.Is(%v, %v) = false", err, c.target)
			}
			if c.target != ErrActionNotSupported && errors.Is(err, ErrActionNotSupported) {
				t.Errorf("%v must not be ErrActionNotSupported", err)
			}
			var f *Fault
			if c.code != "" {
				if !errors.As(err, &f) || f.Code != c.code {
					t.Errorf("want *Fault with code %s, got %#v", c.code, err)
				}
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Error("password in error")
			}
		})
	}
	var f *Fault
	_, err := (&Client{XAddr: httptest.NewServer(faultServer(500, string(FaultEnvelope("env:Receiver", "ter:ActionNotSupported", "Optional Action Not Implemented")), nil)).URL}).Scopes(context.Background())
	if !errors.As(err, &f) || f.Reason != "Optional Action Not Implemented" || !slices.Equal(f.Subcodes, []string{"ter:ActionNotSupported"}) || f.HTTPStatus != 500 {
		t.Errorf("fault detail %#v", f)
	}
}

func TestHostileReplies(t *testing.T) {
	good := string(readGolden(t, "hikvision_getsystemdateandtime.xml"))
	cases := map[string]http.HandlerFunc{
		"truncated": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(good[:len(good)/2])) },
		"short body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5000")
			w.Write([]byte(good[:100]))
		},
		"oversized": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`<?xml version="1.0"?><Envelope><Body><GetSystemDateAndTimeResponse>`))
			chunk := bytes.Repeat([]byte("A"), 64<<10)
			for i := 0; i < 64; i++ { // 4 MiB unless the client stops reading
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
		"slow": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/soap+xml")
			w.WriteHeader(200)
			for i := 0; i < 100; i++ {
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		},
		"bad date": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(strings.Replace(good, "<tt:Month>3</tt:Month>", "<tt:Month>13</tt:Month>", 2)))
		},
		"deep": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<Envelope><Body>" + strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000) + "</Body></Envelope>"))
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			s := httptest.NewServer(h)
			defer s.Close()
			c := &Client{XAddr: s.URL, Timeout: 500 * time.Millisecond}
			start := time.Now()
			_, err := c.SystemDateAndTime(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v", el)
			}
			if name == "oversized" && !errors.Is(err, ErrTooLarge) {
				t.Errorf("want ErrTooLarge, got %v", err)
			}
		})
	}
	s := httptest.NewServer(faultServer(200, good, nil))
	defer s.Close()
	c := &Client{XAddr: s.URL}
	cam, err := c.SystemDateAndTime(context.Background())
	if err != nil || !cam.Equal(time.Date(2020, 3, 16, 6, 4, 37, 0, time.UTC)) {
		t.Fatalf("golden clock: %v %v", cam, err)
	}
}

func TestProberNotONVIF(t *testing.T) {
	_, tg := serve(t, faultServer(404, "<html>404</html>", nil))
	var got int
	err := (&Prober{}).Probe(context.Background(), tg, func(probes.Observation) { got++ })
	if err == nil || got != 0 {
		t.Fatalf("err %v, %d observations", err, got)
	}
	if !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("error should say what answered: %v", err)
	}
}

func TestXAddrsOnlyTargetHost(t *testing.T) {
	tg := probes.Target{IP: netip.MustParseAddr("198.18.1.10"), Facts: []probes.Fact{
		{Key: "wsd.xaddr", Value: "http://203.0.113.5/onvif/device_service"},
		{Key: "wsd.xaddr", Value: "http://[fe80::1]/onvif/device_service"},
		{Key: "wsd.xaddr", Value: "ftp://198.18.1.10/x"},
		{Key: "wsd.xaddr", Value: "http://u:p@198.18.1.10/x"},
		{Key: "wsd.xaddr", Value: "http://198.18.1.10:8899/onvif/device_service"},
	}}
	if got := XAddrs(tg); !slices.Equal(got, []string{"http://198.18.1.10:8899/onvif/device_service"}) {
		t.Errorf("XAddrs = %q", got)
	}
	tg.Facts = tg.Facts[:1]
	if got := XAddrs(tg); !slices.Equal(got, []string{"http://198.18.1.10:80/onvif/device_service"}) {
		t.Errorf("default XAddrs = %q", got)
	}
}

func TestNoCredentialsNeeded(t *testing.T) {
	dev := hikDevice()
	dev.Auth = AuthNone
	_, tg := serve(t, dev)
	f, err := probe(t, &Prober{}, tg)
	if err != nil || !slices.Equal(f["onvif.auth"], []string{"none-needed"}) || f["onvif.manufacturer"][0] != "HIKVISION" {
		t.Fatalf("%v %v", f, err)
	}
}

func TestCredentialFormatting(t *testing.T) {
	c := Credential{"admin", "s3cr3t"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "cred", c, "creds", []Credential{c})
	out := fmt.Sprintf("%v %+v %#v %s", c, c, c, []Credential{c}) + buf.String()
	if strings.Contains(out, "s3cr3t") {
		t.Fatalf("password leaked: %s", out)
	}
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const pwDigestVector = "p9mF7sLR+wBwPOHDNxYg1EBE87w="

// TestResponseBounds pins the parse caps of a response: depth 48 and 8192
// elements are read, one more is refused, and the byte cap is the client's
// MaxBody (a response over 64 KiB but under the cap is read).
func TestResponseBounds(t *testing.T) {
	good := string(readGolden(t, "hikvision_getsystemdateandtime.xml"))
	// The golden's response element sits at depth 3 (Envelope, Body, it).
	nest := func(depth int) string {
		return strings.Repeat("<x>", depth-3) + strings.Repeat("</x>", depth-3)
	}
	wide := func(total int) string { // total elements in the whole response
		n := strings.Count(good, "</") + strings.Count(good, "/>")
		return strings.Repeat("<x/>", total-n)
	}
	pad := "<!--" + strings.Repeat("p", 100<<10) + "-->"
	for _, c := range []struct {
		name, extra string
		maxBody     int64
		ok          bool
	}{
		{"depth at cap", nest(maxDepth), 0, true},
		{"depth over cap", nest(maxDepth + 1), 0, false},
		{"elements at cap", wide(maxElements), 0, true},
		{"elements over cap", wide(maxElements + 1), 0, false},
		{"100 KiB under the default MaxBody", pad, 0, true},
		{"100 KiB over a 64 KiB MaxBody", pad, 64 << 10, false},
	} {
		body := strings.Replace(good, "<tds:SystemDateAndTime>", c.extra+"<tds:SystemDateAndTime>", 1)
		s := httptest.NewServer(faultServer(200, body, nil))
		cl := &Client{XAddr: s.URL, MaxBody: c.maxBody}
		_, err := cl.SystemDateAndTime(context.Background())
		s.Close()
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		} else if err != nil {
			t.Logf("%s: %v", c.name, err)
		}
	}
}

// An NVR's ONVIF service is the one thing every recorder answers: its
// video sources count the cameras behind it.
func TestVideoSourcesCountsChannels(t *testing.T) {
	d := hikDevice()
	d.Auth = AuthDigest
	d.VideoSources = 16
	s, _ := serve(t, d)
	c := &Client{XAddr: s.URL + "/onvif/Media", Creds: []Credential{{User: "admin", Password: secret}}}
	n, err := c.VideoSources(context.Background())
	if err != nil || n != 16 {
		t.Fatalf("VideoSources = %d, %v; want 16", n, err)
	}
	c = &Client{XAddr: s.URL + "/onvif/Media", Creds: []Credential{{User: "admin", Password: "wrong"}}}
	if n, err := c.VideoSources(context.Background()); !errors.Is(err, ErrNotAuthorized) || n != 0 {
		t.Fatalf("wrong password: %d, %v; want ErrNotAuthorized", n, err)
	}
	d.VideoSources = 10 * MaxVideoSources
	c = &Client{XAddr: s.URL + "/onvif/Media", Creds: []Credential{{User: "admin", Password: secret}}, MaxBody: 4 << 20}
	if n, err := c.VideoSources(context.Background()); err == nil && n > MaxVideoSources {
		t.Fatalf("VideoSources = %d, over the cap %d", n, MaxVideoSources)
	}
}
