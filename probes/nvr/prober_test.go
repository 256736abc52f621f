package nvr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/nvr"
)

// transcript collects everything a test produced that could leak a
// secret — log lines, errors, facts, results — and checks at cleanup
// that no password of the test's profiles appears in it.
type transcript struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	secrets []string
}

func (tr *transcript) Write(p []byte) (int, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.buf.Write(p)
}

func (tr *transcript) add(v ...any) {
	fmt.Fprintln(tr, v...)
	b, _ := json.Marshal(v)
	tr.Write(append(b, '\n'))
}

func newTranscript(t *testing.T) *transcript {
	tr := &transcript{}
	t.Cleanup(func() {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if tr.buf.Len() == 0 {
			t.Error("transcript is empty: the leak check saw nothing")
		}
		if leaked := leaks(tr.buf.Bytes(), tr.secrets); len(leaked) > 0 {
			t.Errorf("%d configured passwords appear in the logs, errors, facts or results:\n%s", len(leaked), tr.buf.String())
		}
	})
	return tr
}

// leaks returns the secrets that occur in b.
func leaks(b []byte, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if s != "" && bytes.Contains(b, []byte(s)) {
			out = append(out, s)
		}
	}
	return out
}

// The leak check itself must be able to fail: a transcript holding a
// password (as %v of a plain struct would print it) is caught, and the
// redacting Credential is not.
func TestLeakCheckCatchesPasswords(t *testing.T) {
	secret := "Leak-Check-9!"
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%+v", struct{ User, Password string }{"admin", secret})
	if len(leaks(buf.Bytes(), []string{secret})) != 1 {
		t.Fatal("a printed password was not caught")
	}
	buf.Reset()
	c := nvr.Credential{User: "admin", Password: secret}
	fmt.Fprintf(&buf, "%v %+v %#v %s", c, c, c, []nvr.Credential{c})
	b, _ := json.Marshal(map[string]any{"c": c, "cs": []nvr.Credential{c}})
	buf.Write(b)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "cred", c)
	if l := leaks(buf.Bytes(), []string{secret}); len(l) != 0 {
		t.Fatalf("Credential printed its password: %s", buf.String())
	}
}

// device is one emulated recorder on loopback.
type device struct {
	p      camsim.Profile
	h      camsim.Host
	target probes.Target
	tr     *transcript
}

func start(t *testing.T, name string, edit func(*camsim.Profile)) *device {
	t.Helper()
	p, err := camsim.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&p)
	}
	off, err := camsim.FreeOffset(80)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTranscript(t)
	if p.NVR != nil {
		tr.secrets = append(tr.secrets, p.NVR.Password)
	}
	if p.ONVIF != nil {
		tr.secrets = append(tr.secrets, p.ONVIF.Password)
	}
	h := camsim.Host{MAC: p.MAC(1), IP: netip.MustParseAddr("127.0.0.1"), PortOffset: off}
	log := slog.New(slog.NewTextHandler(tr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stop := camsim.Start(p, h, log)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("camsim: %v", err)
		}
	})
	if err := camsim.WaitListening(h, 3*time.Second, 80); err != nil {
		t.Fatal(err)
	}
	return &device{p: p, h: h, target: probes.Target{MAC: h.MAC, IP: h.IP}, tr: tr}
}

// prober aims a prober at d with creds; every credential's password is a
// secret the transcript checks for.
func (d *device) prober(creds ...nvr.Credential) *nvr.Prober {
	for _, c := range creds {
		d.tr.secrets = append(d.tr.secrets, c.Password)
	}
	return &nvr.Prober{
		Creds:   creds,
		Port:    d.h.Port(80),
		Timeout: 2 * time.Second,
		Log:     slog.New(slog.NewTextHandler(d.tr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// probe runs p against d and records everything it produced.
func (d *device) probe(t *testing.T, p *nvr.Prober) (*nvr.Result, []probes.Observation, error) {
	t.Helper()
	var (
		res *nvr.Result
		obs []probes.Observation
	)
	p.Channels = func(_ probes.Target, r *nvr.Result) { res = r }
	err := p.Probe(context.Background(), d.target, func(o probes.Observation) { obs = append(obs, o) })
	d.tr.add("err", fmt.Sprint(err), fmt.Sprintf("%+v", err))
	for _, o := range obs {
		d.tr.add("obs", o)
	}
	if res != nil {
		d.tr.add("result", fmt.Sprintf("%+v %#v", *res, *res), res)
		for _, c := range res.Channels {
			d.tr.add("channel", c.Facts(d.target.IP.String()))
		}
	}
	d.tr.add("prober", fmt.Sprintf("%+v %#v", p.Creds, p.Creds), p.Creds)
	return res, obs, err
}

func (d *device) stats(t *testing.T) nvr.EmulatorStats {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(d.h.Port(80)) + nvr.StatsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s nvr.EmulatorStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func cred(d *device) nvr.Credential {
	return nvr.Credential{User: d.p.NVR.User, Password: d.p.NVR.Password}
}

func fact(obs []probes.Observation, key string) string {
	for _, o := range obs {
		for _, f := range o.Facts {
			if f.Key == key {
				return f.Value
			}
		}
	}
	return ""
}

func channel(r *nvr.Result, n int) *nvr.Channel {
	for i := range r.Channels {
		if r.Channels[i].Number == n {
			return &r.Channels[i]
		}
	}
	return nil
}

func TestHikvisionNVRChannels(t *testing.T) {
	d := start(t, "hikvision-nvr", nil)
	r, obs, err := d.probe(t, d.prober(cred(d)))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if r.Kind != nvr.KindHikvision || r.Model != d.p.Model || r.Serial != d.p.Serial || r.DeviceType != "NVR" || r.Auth != nvr.AuthDigest {
		t.Errorf("recorder = %+v", r)
	}
	// Eight channels configured; slot 5 is empty and not a camera.
	if len(r.Channels) != 7 || r.Empty != 1 || r.ChannelCount != 7 {
		t.Fatalf("channels %d, empty %d, count %d; want 7, 1, 7: %+v", len(r.Channels), r.Empty, r.ChannelCount, r.Channels)
	}
	if channel(r, 5) != nil {
		t.Error("the empty slot 5 is listed as a camera")
	}
	for _, pc := range d.p.NVR.Channels {
		if pc.IP == "" {
			continue
		}
		c := channel(r, pc.Number)
		if c == nil {
			t.Errorf("channel %d missing", pc.Number)
			continue
		}
		if c.Model != pc.Model || c.Serial != pc.Serial || c.Firmware != pc.Firmware || c.IP != pc.IP || c.Protocol != pc.Protocol || c.Name != pc.Name || c.Port != pc.Port {
			t.Errorf("channel %d = %+v, want %+v", pc.Number, *c, pc)
		}
		wantOnline := pc.Online == nil || *pc.Online
		if c.Online == nil || *c.Online != wantOnline {
			t.Errorf("channel %d online = %v, want %v", pc.Number, c.Online, wantOnline)
		}
	}
	if c := channel(r, 3); c == nil || c.Model != "HWI-B121H" {
		t.Errorf("the HiWatch relabel on channel 3 = %+v", c)
	}
	if c := channel(r, 4); c == nil || c.Protocol != "ONVIF" {
		t.Errorf("the ONVIF camera on channel 4 = %+v", c)
	}
	for k, want := range map[string]string{"nvr.kind": "hikvision", "nvr.model": d.p.Model, "nvr.channels": "7", "nvr.channels_online": "6", "nvr.auth": "digest", "nvr.device_type": "NVR"} {
		if got := fact(obs, k); got != want {
			t.Errorf("fact %s = %q, want %q", k, got, want)
		}
	}
	if s := d.stats(t); s.Bad != 0 || s.Locked {
		t.Errorf("device saw %+v", s)
	}
	// A channel's facts are what the classifier reads.
	fs := channel(r, 1).Facts("127.0.0.1")
	got := map[string]string{}
	for _, f := range fs {
		got[f.Key] = f.Value
	}
	if got["behind.model"] != "DS-2CD2346G2-ISU" || got["behind.protocol"] != "HIKVISION" || got["behind.nvr"] != "127.0.0.1 ch1" || got["behind.via"] != "hikvision" {
		t.Errorf("channel facts %v", got)
	}
}

func TestOldHikvisionNVRWithoutModels(t *testing.T) {
	d := start(t, "hikvision-nvr-old", nil)
	r, _, err := d.probe(t, d.prober(cred(d)))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if r.Kind != nvr.KindHikvision || len(r.Channels) != 3 {
		t.Fatalf("result %+v", r)
	}
	for _, c := range r.Channels {
		if c.Model != "" || c.Serial != "" || c.Firmware != "" || c.IP == "" || c.Protocol == "" {
			t.Errorf("channel %+v: an old NVR names only address and protocol", c)
		}
	}
}

func TestLorexNVRRemoteDevices(t *testing.T) {
	d := start(t, "lorex-nvr", nil)
	r, obs, err := d.probe(t, d.prober(cred(d)))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if r.Kind != nvr.KindDahua || r.Vendor != "Lorex" || r.Model != "N843A8" || r.Serial != d.p.Serial || r.Firmware != d.p.Firmware {
		t.Errorf("recorder = %+v", r)
	}
	if len(r.Channels) != 4 || r.Empty != 1 {
		t.Fatalf("channels %+v, empty %d; want 4 and 1", r.Channels, r.Empty)
	}
	// Channels count from 1, the first RemoteDevice entry being channel 1.
	if c := channel(r, 1); c == nil || c.Model != "E893DD" || c.MAC != "00:1f:54:11:22:01" || c.Maker != "Private" {
		t.Errorf("channel 1 = %+v", c)
	}
	if c := channel(r, 2); c == nil || c.Model != "" || c.Serial != "ND0123456789A2" {
		t.Errorf("channel 2 = %+v: the generic \"IP Camera\" is not a model", c)
	}
	if c := channel(r, 4); c == nil || c.Model != "DS-2CD1143G0-I" || c.Protocol != "Onvif" || c.Maker != "Onvif" {
		t.Errorf("channel 4 = %+v", c)
	}
	if fact(obs, "nvr.vendor") != "Lorex" || fact(obs, "nvr.kind") != "dahua" {
		t.Errorf("facts %+v", obs)
	}
}

// A recorder whose own API we cannot read still says, through ONVIF, how
// many cameras it hides.
func TestWisenetNVRCountsThroughONVIF(t *testing.T) {
	d := start(t, "wisenet-nvr", nil)
	r, obs, err := d.probe(t, d.prober(nvr.Credential{User: d.p.ONVIF.User, Password: d.p.ONVIF.Password}))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if r.Kind != nvr.KindONVIF || r.VideoSources != 4 || r.ChannelCount != 4 || len(r.Channels) != 0 {
		t.Errorf("result %+v", r)
	}
	if fact(obs, "nvr.channels") != "4" || fact(obs, "nvr.video_sources") != "4" {
		t.Errorf("facts %+v", obs)
	}
}

// One wrong credential costs the device exactly one failed login per
// sweep, and never locks it.
func TestWrongPasswordOneAttemptPerSweep(t *testing.T) {
	d := start(t, "hikvision-nvr", nil)
	ledger := nvr.NewLedger(16)
	wrong := nvr.Credential{User: "admin", Password: "Wrong-Pass-1"}
	p := d.prober(wrong)
	p.Ledger = ledger
	r, obs, err := d.probe(t, p)
	if !errors.Is(err, nvr.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if r == nil || r.Kind != nvr.KindHikvision || r.Auth != nvr.AuthRefused || fact(obs, "nvr.auth") != "refused" {
		t.Errorf("result %+v", r)
	}
	if s := d.stats(t); s.Bad != 1 || s.Locked {
		t.Fatalf("device saw %+v; want exactly one bad login and no lock", s)
	}
	// Same sweep: the credential is not sent again.
	_, _, err = d.probe(t, p)
	if !errors.Is(err, nvr.ErrNotTried) {
		t.Errorf("second probe err = %v, want ErrNotTried", err)
	}
	if s := d.stats(t); s.Bad != 1 {
		t.Fatalf("second probe in the same sweep sent the refused credential again: %+v", s)
	}
	// Next sweep: one more, still under the lock-out threshold (3).
	ledger.BeginSweep()
	d.probe(t, p)
	if s := d.stats(t); s.Bad != 2 || s.Locked {
		t.Fatalf("after a new sweep: %+v; want 2 bad, unlocked", s)
	}
	// Next sweep: the device says one failure is left before it locks;
	// that attempt is the installer's, not ours.
	ledger.BeginSweep()
	_, _, err = d.probe(t, p)
	if !errors.Is(err, nvr.ErrLastAttempt) {
		t.Errorf("third sweep err = %v, want ErrLastAttempt", err)
	}
	if s := d.stats(t); s.Bad != 2 || s.Locked {
		t.Fatalf("third sweep: %+v; want still 2 bad, unlocked", s)
	}

	// A right credential after a wrong one: each tried once, in order.
	d2 := start(t, "hikvision-nvr", nil)
	p2 := d2.prober(wrong, cred(d2))
	r, _, err = d2.probe(t, p2)
	if err != nil || len(r.Channels) != 7 || r.Auth != nvr.AuthDigest {
		t.Fatalf("with the right credential second: %v, %+v", err, r)
	}
	if s := d2.stats(t); s.Bad != 1 || s.Good < 4 {
		t.Errorf("device saw %+v; want one bad login, then the rest accepted", s)
	}
}
