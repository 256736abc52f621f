package update

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
)

// TestCrashAtEveryStep installs 2.0 over a committed 1.0 and crashes (the
// in-memory updater is abandoned, everything is reopened from disk) at each
// step. After every crash the launcher must pick a slot whose binary is a
// good, known release, and carrying on (the retained job delivered again,
// the trial started again) must end on 2.0 committed.
func TestCrashAtEveryStep(t *testing.T) {
	for _, step := range Steps {
		t.Run(string(step), func(t *testing.T) {
			f := newFixture(t)
			f.release("1.0", 1, t0.Add(-2*time.Hour), "arm64", f.fwKey())
			f.installCommit("1.0")
			f.release("2.0", 1, t0.Add(-time.Hour), "arm64", f.fwKey())
			good := map[string]string{sha(f.bins["1.0"]): "1.0", sha(f.bins["2.0"]): "2.0"}

			crashed := false
			fault := func(s Step) error {
				if s == step && !crashed {
					crashed = true
					return ErrInjected
				}
				return nil
			}
			ctx := context.Background()
			// The first life: the 1.0 process receives the job.
			err := f.updater(fault).Install(ctx, f.job("2.0"))
			if slices.Index(Steps, step) <= slices.Index(Steps, StepSwitch) && !errors.Is(err, ErrInjected) {
				t.Fatalf("install: %v, want the injected crash", err)
			}
			// Then the appliance keeps restarting; each life does what
			// the real one would.
			for life := 0; life < 10; life++ {
				d, err := BootWith(BootOptions{Dir: f.dir})
				if err != nil {
					t.Fatal(err)
				}
				if d.Path == "" {
					t.Fatalf("life %d: fell back to the factory binary: %+v", life, d)
				}
				got, err := fileSHA256(d.Path)
				if err != nil || good[got] != d.Version {
					t.Fatalf("life %d: slot %s holds %s (%v), decision says %s", life, d.Slot, got, err, d.Version)
				}
				if !d.Trial && d.Version == "2.0" {
					st := f.state()
					if st.EpochFloor != 1 || !st.MetadataFloor.Equal(t0.Add(-time.Hour)) || st.Previous == st.Active {
						t.Fatalf("committed state %+v", st)
					}
					if !crashed {
						t.Fatalf("step %s never reached", step)
					}
					return
				}
				if d.Trial {
					err := f.updater(fault).RunTrial(ctx, d, pass)
					if err != nil && !errors.Is(err, ErrInjected) {
						t.Fatalf("life %d: trial: %v", life, err)
					}
					continue
				}
				// Running 1.0: the retained job arrives again.
				if err := f.updater(fault).Install(ctx, f.job("2.0")); err != nil && !errors.Is(err, ErrInjected) {
					t.Fatalf("life %d: install again: %v", life, err)
				}
			}
			t.Fatalf("never came up on 2.0: %+v, statuses %v", f.state(), f.sink.states())
		})
	}
}

func TestInstallResumesAndReports(t *testing.T) {
	f := newFixture(t)
	f.release("1.0", 1, t0.Add(-time.Hour), "arm64", f.fwKey())
	f.repo.cutOnce = 20 << 10
	f.installCommit("1.0")
	want := []string{StateQueued, StateDownloading, StateVerifying, StateInstalled, StateTrial, StateCommitted}
	if got := f.sink.states(); !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	var ranges []string
	for _, r := range f.repo.reqs() {
		if strings.HasPrefix(r, "/targets/") {
			ranges = append(ranges, r[strings.IndexByte(r, ' ')+1:])
		}
	}
	if len(ranges) != 2 || ranges[0] != "" || ranges[1] != fmt.Sprintf("bytes=%d-", 20<<10) {
		t.Fatalf("binary requests %q: want a full GET then a resume from %d", ranges, 20<<10)
	}
	// Progress went up to 100 in steps.
	var pcts []int
	for _, s := range f.sink.s {
		if s.State == StateDownloading {
			pcts = append(pcts, s.Progress)
		}
	}
	if len(pcts) < 3 || pcts[len(pcts)-1] != 100 || !slices.IsSorted(pcts) {
		t.Fatalf("progress %v", pcts)
	}
	// A retained job seen again: committed, nothing fetched.
	n := len(f.repo.reqs())
	if err := f.updater(nil).Install(context.Background(), f.job("1.0")); err != nil {
		t.Fatal(err)
	}
	if f.sink.last().State != StateCommitted || len(f.repo.reqs()) != n {
		t.Fatalf("redelivered job: %+v, %d requests", f.sink.last(), len(f.repo.reqs())-n)
	}
}

func TestRetryThenPermanent(t *testing.T) {
	f := newFixture(t)
	f.release("1.0", 1, t0.Add(-time.Hour), "arm64", f.fwKey())
	f.repo.fail503 = 2
	if err := f.updater(nil).Install(context.Background(), f.job("1.0")); err != nil {
		t.Fatalf("two 503s then success: %v", err)
	}
	if r := f.repo.reqs(); len(r) != 4 || !strings.HasPrefix(r[2], "/releases/") {
		t.Fatalf("requests %q: want 503, 503, metadata, binary", r)
	}
}

func TestRetryBounded(t *testing.T) {
	f := newFixture(t)
	f.release("1.0", 1, t0.Add(-time.Hour), "arm64", f.fwKey())
	f.repo.fail503 = 100
	err := f.updater(nil).Install(context.Background(), f.job("1.0"))
	if CodeOf(err) != CodeFetch || len(f.repo.reqs()) != 4 {
		t.Fatalf("always 503: %v after %d requests, want fetch after 4", err, len(f.repo.reqs()))
	}
	f.repo.fail503 = 0
	// A transient failure is retried when the job comes again.
	if err := f.updater(nil).Install(context.Background(), f.job("1.0")); err != nil {
		t.Fatal(err)
	}
}

func TestNotFoundIsPermanent(t *testing.T) {
	f := newFixture(t)
	err := f.updater(nil).Install(context.Background(), f.job("9.9"))
	if CodeOf(err) != CodeHTTP || len(f.repo.reqs()) != 1 {
		t.Fatalf("404: %v after %d requests", err, len(f.repo.reqs()))
	}
	if s := f.sink.last(); s.State != StateFailed || s.Code != CodeHTTP {
		t.Fatalf("status %+v", s)
	}
	if st := f.state(); st.Last == nil || st.Last.Code != CodeHTTP {
		t.Fatalf("outcome not recorded: %+v", st.Last)
	}
}

func TestGateFailureRollsBack(t *testing.T) {
	f := newFixture(t)
	f.release("1.0", 1, t0.Add(-2*time.Hour), "arm64", f.fwKey())
	f.installCommit("1.0")
	rel := f.release("2.0", 2, t0.Add(-time.Hour), "arm64", f.fwKey())
	ctx := context.Background()
	restarted := 0
	u := f.updater(nil)
	u.opts.Restart = func() { restarted++ }
	if err := u.Install(ctx, f.job("2.0")); err != nil {
		t.Fatal(err)
	}
	d, _ := BootWith(BootOptions{Dir: f.dir})
	if !d.Trial || !d.Launch || d.Attempt != 1 || restarted != 1 {
		t.Fatalf("decision %+v, restarts %d", d, restarted)
	}
	err := u.RunTrial(ctx, d, Checks(Check{Name: "board", Check: func(context.Context, Trial) error { return errors.New("not answering") }}))
	if CodeOf(err) != CodeGate || restarted != 2 {
		t.Fatalf("trial: %v, restarts %d", err, restarted)
	}
	s := f.sink.last()
	if s.State != StateRolledBack || s.Code != CodeGate || !strings.Contains(s.Reason, "board: not answering") || s.Running != "1.0" {
		t.Fatalf("status %+v", s)
	}
	st := f.state()
	if st.ActiveVersion() != "1.0" || st.EpochFloor != 1 || !slices.Contains(st.FailedHashes, rel.Targets[0].SHA256) {
		t.Fatalf("state %+v: epoch floor must not rise, hash must be remembered", st)
	}
	if d, _ := BootWith(BootOptions{Dir: f.dir}); d.Trial || d.Version != "1.0" {
		t.Fatalf("after rollback boots %+v", d)
	}
	// The same job again: not retried.
	n := len(f.repo.reqs())
	f.updater(nil).Install(ctx, f.job("2.0"))
	if len(f.repo.reqs()) != n || f.sink.last().State != StateRolledBack {
		t.Fatalf("rolled-back job retried: %v", f.sink.last())
	}
	// The same image under another version: refused by hash.
	p := f.dir + "/same"
	os.WriteFile(p, f.bins["2.0"], 0o644)
	if _, err := WriteRelease(f.repo.dir, f.fwKey(), Spec{Version: "2.0.1", SecurityEpoch: 2, IssuedAt: t0.Add(-time.Minute),
		Expires: t0.Add(time.Hour), Binaries: map[string]string{"arm64": p}}); err != nil {
		t.Fatal(err)
	}
	if err := f.updater(nil).Install(ctx, f.job("2.0.1")); CodeOf(err) != CodeFailedBefore {
		t.Fatalf("failed image again: %v", err)
	}
}

func TestBootLoopRollsBack(t *testing.T) {
	f := newFixture(t)
	f.release("1.0", 1, t0.Add(-2*time.Hour), "arm64", f.fwKey())
	f.installCommit("1.0")
	f.release("2.0", 1, t0.Add(-time.Hour), "arm64", f.fwKey())
	if err := f.updater(nil).Install(context.Background(), f.job("2.0")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= DefaultMaxBootAttempts; i++ {
		d, _ := BootWith(BootOptions{Dir: f.dir})
		if !d.Trial || d.Attempt != i {
			t.Fatalf("start %d: %+v", i, d)
		}
		// A start by the launcher's child does not count.
		if c, _ := BootWith(BootOptions{Dir: f.dir, Getenv: func(k string) string {
			if k == EnvSlot {
				return d.Slot
			}
			return ""
		}}); !c.Trial || c.Launch || c.Attempt != i {
			t.Fatalf("child view %+v", c)
		}
		// ... and the trial binary crashes before its gate.
	}
	d, _ := BootWith(BootOptions{Dir: f.dir})
	if d.Trial || d.Version != "1.0" || d.RolledBack == nil || d.RolledBack.Code != CodeBootLoop {
		t.Fatalf("after %d crashed starts: %+v", DefaultMaxBootAttempts, d)
	}
	if u := f.updater(nil).Current(); u.State != StateRolledBack || u.Code != CodeBootLoop || u.Running != "1.0" {
		t.Fatalf("reported at start: %+v", u)
	}
}

func TestCorruptActiveSlotFallsBack(t *testing.T) {
	f := newFixture(t)
	f.release("1.0", 1, t0.Add(-2*time.Hour), "arm64", f.fwKey())
	f.installCommit("1.0")
	f.release("2.0", 1, t0.Add(-time.Hour), "arm64", f.fwKey())
	f.installCommit("2.0")
	st := f.state()
	os.WriteFile(f.dir+"/slots/"+st.Active, []byte("garbage"), 0o755)
	d, _ := BootWith(BootOptions{Dir: f.dir})
	if d.Version != "1.0" || d.Slot != st.Previous || d.Warning == "" {
		t.Fatalf("corrupt active slot: %+v", d)
	}
}

// TestAttacks: each bad release is refused with its reason on ota/status,
// and nothing is written to a slot.
func TestAttacks(t *testing.T) {
	type setup func(f *fixture) string // returns the job version
	cases := []struct {
		name string
		code string
		prep setup
	}{
		{"tampered binary", CodeHash, func(f *fixture) string {
			f.release("3.0", 2, t0, "arm64", f.fwKey())
			f.repo.tamper = true
			return "3.0"
		}},
		{"endless data", CodeSize, func(f *fixture) string {
			f.release("3.0", 2, t0, "arm64", f.fwKey())
			f.repo.extra = 1 << 20
			return "3.0"
		}},
		{"older metadata replayed", CodeRollback, func(f *fixture) string {
			f.release("1.5", 2, t0.Add(-3*time.Hour), "arm64", f.fwKey())
			return "1.5"
		}},
		{"lower security epoch", CodeEpoch, func(f *fixture) string {
			f.release("3.0", 1, t0, "arm64", f.fwKey())
			return "3.0"
		}},
		{"wrong architecture", CodeArch, func(f *fixture) string {
			f.release("3.0", 2, t0, "armv6", f.fwKey())
			return "3.0"
		}},
		{"expired", CodeExpired, func(f *fixture) string {
			p := f.binary("3.0", 1000)
			WriteRelease(f.repo.dir, f.fwKey(), Spec{Version: "3.0", SecurityEpoch: 2, IssuedAt: t0.Add(-time.Hour / 2),
				Expires: t0.Add(-time.Minute), Binaries: map[string]string{"arm64": p}})
			return "3.0"
		}},
		{"signed by a policy key", CodeSignature, func(f *fixture) string {
			k := f.auth.Keys[sign.RolePolicy]
			k.Role = sign.RoleFirmware // lie to the writer; the key set knows better
			f.release("3.0", 2, t0, "arm64", k)
			return "3.0"
		}},
		{"signed by a revoked key", CodeSignature, func(f *fixture) string {
			old := f.fwKey()
			f.auth.AddKey(sign.RoleFirmware, t0.Add(-time.Hour), t0.Add(time.Hour))
			f.auth.Revoke(old.ID)
			f.release("3.0", 2, t0, "arm64", old)
			return "3.0"
		}},
		{"version differs from job", CodeVersion, func(f *fixture) string {
			f.release("3.0", 2, t0, "arm64", f.fwKey())
			b, _ := os.ReadFile(f.repo.dir + "/" + ReleasePath("3.0"))
			os.WriteFile(f.repo.dir+"/"+ReleasePath("3.1"), b, 0o644)
			return "3.1"
		}},
		{"garbage metadata", CodeMalformed, func(f *fixture) string {
			os.MkdirAll(f.repo.dir+"/releases", 0o755)
			os.WriteFile(f.repo.dir+"/"+ReleasePath("3.0"), []byte(`{"payload":"x"}`), 0o644)
			return "3.0"
		}},
		{"oversized metadata", CodeSize, func(f *fixture) string {
			os.MkdirAll(f.repo.dir+"/releases", 0o755)
			os.WriteFile(f.repo.dir+"/"+ReleasePath("3.0"), make([]byte, MaxMetadata+1), 0o644)
			return "3.0"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.release("2.0", 2, t0.Add(-2*time.Hour), "arm64", f.fwKey())
			f.installCommit("2.0")
			before := f.state()
			v := tc.prep(f)
			err := f.updater(nil).Install(context.Background(), f.job(v))
			if CodeOf(err) != tc.code {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
			s := f.sink.last()
			if s.State != StateFailed || s.Code != tc.code || s.Reason == "" || s.Running != "2.0" {
				t.Fatalf("status %+v", s)
			}
			after := f.state()
			if after.Trial != nil || after.Active != before.Active || after.Slots[after.Active] != before.Slots[before.Active] {
				t.Fatalf("state changed: %+v", after)
			}
			if _, err := os.Stat(f.dir + "/" + filePart); err == nil && (tc.code == CodeHash || tc.code == CodeSize) {
				t.Fatalf("refused download left on disk")
			}
		})
	}
}

func TestDowngradeWithFreshMetadata(t *testing.T) {
	f := newFixture(t)
	f.release("1.0", 1, t0.Add(-3*time.Hour), "arm64", f.fwKey())
	f.installCommit("1.0")
	f.release("2.0", 1, t0.Add(-2*time.Hour), "arm64", f.fwKey())
	f.installCommit("2.0")
	// Re-signed 1.0 (same epoch, newer metadata): a permitted downgrade.
	p := f.dir + "/v1"
	os.WriteFile(p, f.bins["1.0"], 0o644)
	if _, err := WriteRelease(f.repo.dir, f.fwKey(), Spec{Version: "1.0", SecurityEpoch: 1, IssuedAt: t0.Add(-time.Hour),
		Expires: t0.Add(time.Hour), Binaries: map[string]string{"arm64": p}}); err != nil {
		t.Fatal(err)
	}
	f.installCommit("1.0")
}

func TestParseJob(t *testing.T) {
	for _, bad := range []string{
		`{"version":"1.0","repository":"http://127.0.0.1/"}`,
		`{"version":"../x","repository":"https://127.0.0.1/"}`,
		`{"version":"1.0"}`,
		`{"version":"","repository":"https://127.0.0.1/"}`,
		`not json`,
		`{"version":"1.0","repository":"https://u:p@127.0.0.1/"}`,
	} {
		if _, err := ParseJob([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	j, err := ParseJob([]byte(`{"schema":"camwarden.ota.job/1","version":"1.2.3","repository":"https://127.0.0.1:8443/fw"}`))
	if err != nil || j.Version != "1.2.3" {
		t.Fatalf("%+v %v", j, err)
	}
}

func TestReleaseValidate(t *testing.T) {
	good := func() *Release {
		return &Release{Type: ReleaseType, Version: "1.0", SecurityEpoch: 1, IssuedAt: t0, Expires: t0.Add(time.Hour),
			Targets: []Target{{Arch: "arm64", URL: "targets/" + strings.Repeat("a", 64), Size: 10, SHA256: strings.Repeat("a", 64)}}}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(r *Release){
		"absolute url":  func(r *Release) { r.Targets[0].URL = "https://evil.example/x" },
		"escaping url":  func(r *Release) { r.Targets[0].URL = "../x" },
		"rooted url":    func(r *Release) { r.Targets[0].URL = "/x" },
		"arch":          func(r *Release) { r.Targets[0].Arch = "mips" },
		"size":          func(r *Release) { r.Targets[0].Size = MaxBinary + 1 },
		"sha":           func(r *Release) { r.Targets[0].SHA256 = "ab" },
		"dup arch":      func(r *Release) { r.Targets = append(r.Targets, r.Targets[0]) },
		"no expiry":     func(r *Release) { r.Expires = time.Time{} },
		"long validity": func(r *Release) { r.Expires = r.IssuedAt.Add(MaxValidity + time.Hour) },
		"type":          func(r *Release) { r.Type = "x" },
	} {
		r := good()
		mut(r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
