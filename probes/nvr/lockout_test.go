package nvr_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/nvr"
)

// A recorder that locks after one bad login: the prober's one wrong try
// locks it, the lock answer is honoured, and nothing is sent until the
// device's own unlock time has passed.
func TestLockedHikvisionGetsNoAttemptUntilUnlock(t *testing.T) {
	d := start(t, "hikvision-nvr", func(p *camsim.Profile) { p.NVR.LockAfter = 2; p.NVR.LockFor = 2 * time.Second })
	ledger := nvr.NewLedger(16)
	p := d.prober(nvr.Credential{User: "admin", Password: "Wrong-Pass-2"}, nvr.Credential{User: "admin", Password: "Wrong-Pass-4"})
	p.Ledger = ledger
	// The first refusal says one failure is left before the lock: the
	// second credential is not spent on it.
	if _, _, err := d.probe(t, p); !errors.Is(err, nvr.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if s := d.stats(t); s.Bad != 1 || s.Locked {
		t.Fatalf("device saw %+v; want one attempt, no lock", s)
	}
	// Somebody else locks it.
	d.badLogin(t)
	ledger.BeginSweep()
	if _, _, err := d.probe(t, p); !errors.Is(err, nvr.ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked (the refusal said locked)", err)
	}
	if until, ok := ledger.LockedUntil(d.target.MAC.String(), time.Now()); !ok || time.Until(until) > 3*time.Second {
		t.Fatalf("ledger lock = %v %v; want the device's ~2s", until, ok)
	}
	// A new sweep with the right password: still locked, so not a single
	// credentialed request reaches the device.
	ledger.BeginSweep()
	good := d.prober(cred(d))
	good.Ledger = ledger
	r, obs, err := d.probe(t, good)
	if !errors.Is(err, nvr.ErrLocked) || r == nil || r.Auth != nvr.AuthLocked || fact(obs, "nvr.auth") != "locked" {
		t.Fatalf("while locked: %v, %+v", err, r)
	}
	if s := d.stats(t); s.WhileLocked != 0 || s.Bad != 2 || !s.Locked {
		t.Fatalf("device saw %+v; want only our first and the other party's bad login", s)
	}
	// A fresh appliance (no ledger memory) learns the lock from the
	// device's first answer and still sends nothing.
	fresh := d.prober(cred(d))
	if _, _, err := d.probe(t, fresh); !errors.Is(err, nvr.ErrLocked) {
		t.Fatalf("fresh prober err = %v, want ErrLocked", err)
	}
	if s := d.stats(t); s.WhileLocked != 0 {
		t.Fatalf("a fresh prober tried while locked: %+v", s)
	}
	time.Sleep(2100 * time.Millisecond)
	r, _, err = d.probe(t, good)
	if err != nil || len(r.Channels) != 7 {
		t.Fatalf("after unlock: %v, %+v", err, r)
	}
	if s := d.stats(t); s.WhileLocked != 0 || s.Good == 0 {
		t.Fatalf("device saw %+v", s)
	}
}

func TestLockedDahuaTextHint(t *testing.T) {
	d := start(t, "lorex-nvr", func(p *camsim.Profile) { p.NVR.LockAfter = 1 })
	d.badLogin(t)
	ledger := nvr.NewLedger(16)
	p := d.prober(nvr.Credential{User: "admin", Password: "Wrong-Pass-3"}, cred(d))
	p.Ledger = ledger
	r, _, err := d.probe(t, p)
	if !errors.Is(err, nvr.ErrLocked) || r == nil || r.Kind != nvr.KindUnknown && r.Auth != nvr.AuthLocked {
		t.Fatalf("err = %v, result %+v; want ErrLocked", err, r)
	}
	// The locked recorder's first 401 says "User Locked!": neither
	// credential is sent.
	if s := d.stats(t); s.Bad != 1 || s.WhileLocked != 0 {
		t.Fatalf("device saw %+v", s)
	}
	until, ok := ledger.LockedUntil(d.target.MAC.String(), time.Now())
	if !ok || time.Until(until) < 25*time.Minute {
		t.Fatalf("lock until %v (%v); want the 30 minutes the device named", until, ok)
	}
}

func TestNoCredentialsSaysSo(t *testing.T) {
	d := start(t, "hikvision-nvr", nil)
	r, obs, err := d.probe(t, d.prober())
	if !errors.Is(err, nvr.ErrNoCredentials) || r == nil || r.Kind != nvr.KindHikvision || fact(obs, "nvr.auth") != "no-credentials" {
		t.Fatalf("err %v, result %+v", err, r)
	}
}

func TestMalformedReplies(t *testing.T) {
	for _, name := range []string{"hikvision-nvr", "lorex-nvr"} {
		t.Run(name, func(t *testing.T) {
			d := start(t, name, func(p *camsim.Profile) { p.NVR.Variant = "malformed" })
			r, _, err := d.probe(t, d.prober(cred(d)))
			if name == "hikvision-nvr" && err == nil {
				t.Fatal("no error from a recorder whose answers are cut short")
			}
			if r != nil && len(r.Channels) > 0 && name == "hikvision-nvr" {
				t.Errorf("channels read from broken XML: %+v", r.Channels)
			}
			// What is read from a cut key=value table must be true.
			for _, c := range resultChannels(r) {
				pc := d.p.NVR.Channels[c.Number-1]
				if (c.Model != "" && c.Model != pc.Model) || (c.Serial != "" && c.Serial != pc.Serial) || (c.IP != "" && c.IP != pc.IP) {
					t.Errorf("channel %+v disagrees with the profile's %+v", c, pc)
				}
			}
		})
	}
}

func TestHugeReplies(t *testing.T) {
	d := start(t, "hikvision-nvr", func(p *camsim.Profile) { p.NVR.Variant = "huge" })
	r, obs, err := d.probe(t, d.prober(cred(d)))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if len(r.Channels) != nvr.DefaultMaxChannels || !r.Truncated || fact(obs, "nvr.truncated") != "true" {
		t.Fatalf("channels %d truncated %v; want the %d cap", len(r.Channels), r.Truncated, nvr.DefaultMaxChannels)
	}
	small := d.prober(cred(d))
	small.MaxBody = 64 << 10
	_, _, err = d.probe(t, small)
	if !errors.Is(err, nvr.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge under a 64 KiB cap", err)
	}
}

func TestSlowRecorderIsBounded(t *testing.T) {
	d := start(t, "hikvision-nvr", func(p *camsim.Profile) { p.NVR.Variant = "slow"; p.NVR.Delay = 3 * time.Second })
	p := d.prober(cred(d))
	p.Timeout = 200 * time.Millisecond
	t0 := time.Now()
	_, _, err := d.probe(t, p)
	if err == nil {
		t.Fatal("no error from a recorder slower than the timeout")
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Fatalf("probe took %s with a 200ms per-request timeout", el)
	}
	if s := d.stats(t); s.Bad != 0 {
		t.Errorf("timeouts counted as bad logins: %+v", s)
	}
}

func resultChannels(r *nvr.Result) []nvr.Channel {
	if r == nil {
		return nil
	}
	return r.Channels
}

// badLogin sends one refused login as another client would.
func (d *device) badLogin(t *testing.T) {
	t.Helper()
	path := "/ISAPI/System/deviceInfo"
	if d.p.NVR.Kind == "dahua" {
		path = "/cgi-bin/magicBox.cgi?action=getSystemInfo"
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(d.h.Port(80))+path, nil)
	req.Header.Set("Authorization", `Digest username="admin", realm="x", nonce="x", uri="/", response="0"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad login answered %d", resp.StatusCode)
	}
}
