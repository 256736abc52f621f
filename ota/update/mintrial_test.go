package update

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// installTrial installs version (committed 1.0 first) and boots it on trial.
func installTrial(t *testing.T, f *fixture, u *Updater, version string, minTrial time.Duration) Decision {
	t.Helper()
	f.release("1.0", 1, t0.Add(-2*time.Hour), "arm64", f.fwKey())
	f.installCommit("1.0")
	p := f.binary(version, 70<<10)
	if _, err := WriteRelease(f.repo.dir, f.fwKey(), Spec{Version: version, SecurityEpoch: 1, IssuedAt: t0.Add(-time.Hour),
		Expires: t0.Add(time.Hour), Binaries: map[string]string{"arm64": p}, MinTrial: minTrial}); err != nil {
		t.Fatal(err)
	}
	if err := u.Install(context.Background(), f.job(version)); err != nil {
		t.Fatal(err)
	}
	d, err := BootWith(BootOptions{Dir: f.dir})
	if err != nil || !d.Trial {
		t.Fatalf("boot: %+v %v", d, err)
	}
	return d
}

func TestMinTrialMustHoldBeforeCommit(t *testing.T) {
	f := newFixture(t)
	u := f.updater(nil)
	u.opts.MinTrial = 150 * time.Millisecond
	d := installTrial(t, f, u, "2.0", 0)
	// Healthy, one failed poll, then healthy: the period counts from the
	// last failure, not from the first pass.
	var calls atomic.Int32
	var failedAt atomic.Int64
	gate := func(context.Context, Trial) error {
		if calls.Add(1) == 3 {
			failedAt.Store(time.Now().UnixNano())
			return errors.New("peer dropped")
		}
		return nil
	}
	if err := u.RunTrial(context.Background(), d, gate); err != nil {
		t.Fatal(err)
	}
	held := time.Since(time.Unix(0, failedAt.Load()))
	if failedAt.Load() == 0 || held < 150*time.Millisecond {
		t.Fatalf("committed %s after the gate failed (calls %d); want the 150ms minimum after it", held, calls.Load())
	}
	if calls.Load() < 4 {
		t.Fatalf("gate polled %d times: the minimum period must keep polling", calls.Load())
	}
	if st := f.state(); st.Trial != nil || st.ActiveVersion() != "2.0" {
		t.Fatalf("not committed: %+v", st)
	}
}

func TestMinTrialNeverHeldRollsBack(t *testing.T) {
	f := newFixture(t)
	u := f.updater(nil)
	u.opts.MinTrial = 400 * time.Millisecond // TrialTimeout is 200ms: deadline 600ms
	d := installTrial(t, f, u, "2.0", 0)
	start := time.Now()
	// Healthy in short bursts only: every fourth poll fails.
	var calls atomic.Int32
	gate := func(context.Context, Trial) error {
		if calls.Add(1)%4 == 0 {
			return errors.New("watchdog stall")
		}
		return nil
	}
	err := u.RunTrial(context.Background(), d, gate)
	if CodeOf(err) != CodeGate {
		t.Fatalf("flapping trial: %v", err)
	}
	if el := time.Since(start); el < 550*time.Millisecond {
		t.Fatalf("rolled back after %s, before the trial's deadline", el)
	}
	if st := f.state(); st.Trial != nil || st.ActiveVersion() != "1.0" || f.sink.last().State != StateRolledBack {
		t.Fatalf("state %+v, status %+v", st, f.sink.last())
	}
	// Healthy at first, then failing until the deadline: the reason says so.
	f2 := newFixture(t)
	u2 := f2.updater(nil)
	u2.opts.MinTrial = 400 * time.Millisecond
	d2 := installTrial(t, f2, u2, "2.0", 0)
	var n atomic.Int32
	err = u2.RunTrial(context.Background(), d2, func(context.Context, Trial) error {
		if n.Add(1) > 2 {
			return errors.New("leaking")
		}
		return nil
	})
	if CodeOf(err) != CodeGate || !strings.Contains(f2.sink.last().Reason, "leaking") {
		t.Fatalf("%v; status %+v", err, f2.sink.last())
	}
}

// A stop (reboot, restart) during the minimum period is not a failed trial:
// the state stays on trial, the next start counts an attempt and runs the
// whole period again.
func TestStopDuringMinTrialResumes(t *testing.T) {
	f := newFixture(t)
	u := f.updater(nil)
	u.opts.MinTrial = time.Hour
	u.opts.TrialTimeout = time.Hour
	d := installTrial(t, f, u, "2.0", 0)
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	go func() {
		for calls.Load() < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err := u.RunTrial(ctx, d, func(context.Context, Trial) error { calls.Add(1); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped trial: %v", err)
	}
	st := f.state()
	if st.Trial == nil || st.Trial.Version != "2.0" || st.ActiveVersion() != "1.0" || st.Last.State == StateRolledBack {
		t.Fatalf("after the stop: %+v", st)
	}
	d2, _ := BootWith(BootOptions{Dir: f.dir})
	if !d2.Trial || d2.Attempt != 2 || d2.Version != "2.0" {
		t.Fatalf("next start: %+v", d2)
	}
	u2 := f.updater(nil)
	u2.opts.MinTrial = 50 * time.Millisecond
	start := time.Now()
	if err := u2.RunTrial(context.Background(), d2, pass); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("resumed trial committed without its own minimum period")
	}
	if st := f.state(); st.Trial != nil || st.ActiveVersion() != "2.0" {
		t.Fatalf("not committed after the resumed trial: %+v", st)
	}
}

// The release's signed min_trial_seconds reaches the trial process through
// the persisted Trial, and the longer of it and Options.MinTrial applies.
func TestReleaseMinTrial(t *testing.T) {
	f := newFixture(t)
	u := f.updater(nil)
	u.opts.TrialTimeout = 5 * time.Second
	d := installTrial(t, f, u, "2.0", time.Second)
	if st := f.state(); st.Trial == nil || st.Trial.MinTrialSeconds != 1 {
		t.Fatalf("trial %+v: min_trial_seconds not kept", st.Trial)
	}
	start := time.Now()
	if err := u.RunTrial(context.Background(), d, pass); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("committed after %s, before the release's 1s minimum", el)
	}

	r := Release{Type: ReleaseType, Version: "3.0", IssuedAt: t0, Expires: t0.Add(time.Hour),
		Targets: []Target{{Arch: "arm64", URL: "targets/" + strings.Repeat("a", 64), Size: 1, SHA256: strings.Repeat("a", 64)}}}
	for _, bad := range []int64{-1, int64(MaxMinTrial/time.Second) + 1} {
		r.MinTrialSeconds = bad
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "min_trial_seconds") {
			t.Fatalf("min_trial_seconds %d: %v", bad, err)
		}
	}
	r.MinTrialSeconds = 600
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRelease(r.Marshal()); err != nil {
		t.Fatalf("strict parse of a release with min_trial_seconds: %v", err)
	}
}
