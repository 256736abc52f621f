//go:build unix

package update

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildFakeFW builds testdata/fakefw as version with the given gate.
func buildFakeFW(t *testing.T, version, gate string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		// Called from goroutines: Fatal/Skip must not be used there.
		t.Errorf("go tool not found: cannot build the test firmware: %v", err)
		return ""
	}
	out := filepath.Join(t.TempDir(), "camwarden-"+version)
	cmd := exec.Command(gobin, "build", "-o", out, "-ldflags", "-X main.version="+version+" -X main.gate="+gate, "./testdata/fakefw")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("build fakefw %s: %v\n%s", version, err, b)
	}
	return out
}

// runLauncher starts the factory binary the way systemd would and returns
// its output lines.
func runLauncher(t *testing.T, factory, dir string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, factory, "run")
	cmd.Env = append(os.Environ(), "FAKEFW_STATE="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil && stderr.Len() > 0 {
		t.Logf("launcher stderr:\n%s", stderr.String())
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n"), err
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("launcher output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestEndToEnd: wardenctl's release writer -> HTTPS repository -> job ->
// download interrupted and resumed with Range -> install -> the factory
// launcher execs the new slot on trial -> gate passes -> committed; then a
// release whose gate fails is rolled back, and one that crashes at every
// start is rolled back by the boot-loop counter. Real binaries, real exec.
func TestEndToEnd(t *testing.T) {
	// Built in parallel: linking dominates the test's time.
	bins := make([]string, 4)
	var wg sync.WaitGroup
	for i, vg := range [][2]string{{"1.0.0", "pass"}, {"2.0.0", "pass"}, {"3.0.0", "fail"}, {"4.0.0", "crash"}} {
		wg.Go(func() { bins[i] = buildFakeFW(t, vg[0], vg[1]) })
	}
	wg.Wait()
	if t.Failed() || t.Skipped() {
		return
	}
	factory, v2, v3, v4 := bins[0], bins[1], bins[2], bins[3]
	f := newFixture(t)
	arch := HostArch()
	release := func(version, bin string, issued time.Time) {
		t.Helper()
		if _, err := WriteRelease(f.repo.dir, f.fwKey(), Spec{Version: version, SecurityEpoch: 1, IssuedAt: issued,
			Expires: issued.Add(7 * 24 * time.Hour), Binaries: map[string]string{arch: bin, "armv6": factory}}); err != nil {
			t.Fatal(err)
		}
	}
	install := func(version string) {
		t.Helper()
		u := f.updater(nil)
		u.opts.Arch = arch
		restarted := false
		u.opts.Restart = func() { restarted = true }
		if err := u.Install(context.Background(), f.job(version)); err != nil || !restarted {
			t.Fatalf("install %s: %v (restart asked: %v)", version, err, restarted)
		}
	}

	// 1. 2.0.0, with the connection dropped halfway through the binary.
	release("2.0.0", v2, t0.Add(-3*time.Hour))
	st, _ := os.Stat(v2)
	f.repo.cutOnce = int(st.Size() / 2)
	install("2.0.0")
	resumed := false
	for _, r := range f.repo.reqs() {
		resumed = resumed || (strings.HasPrefix(r, "/targets/") && strings.Contains(r, "bytes="))
	}
	if !resumed {
		t.Fatalf("no Range resume in %q", f.repo.reqs())
	}
	out, err := runLauncher(t, factory, f.dir)
	if err != nil {
		t.Fatalf("launcher: %v\n%s", err, strings.Join(out, "\n"))
	}
	wantLines(t, out, "launch 1.0.0 slot=a trial=true attempt=1", "status trial 2.0.0 ", "status committed 2.0.0 ",
		`running 2.0.0 slot="a"`)
	out, _ = runLauncher(t, factory, f.dir)
	wantLines(t, out, "launch 1.0.0 slot=a trial=false attempt=0", `running 2.0.0 slot="a"`)

	// 2. 3.0.0 fails its gate: rolled back, and the launcher starts 2.0.0.
	release("3.0.0", v3, t0.Add(-2*time.Hour))
	install("3.0.0")
	out, err = runLauncher(t, factory, f.dir)
	if err != nil {
		t.Fatalf("launcher: %v\n%s", err, strings.Join(out, "\n"))
	}
	wantLines(t, out, "launch 1.0.0 slot=b trial=true attempt=1", "status trial 3.0.0 ", "status rolled_back 3.0.0 gate",
		"launch 1.0.0 slot=a trial=false attempt=0", `running 2.0.0 slot="a"`)

	// 3. 4.0.0 crashes at every start: after the allowed starts the
	// launcher rolls it back on its own.
	release("4.0.0", v4, t0.Add(-time.Hour))
	install("4.0.0")
	for i := 1; i <= DefaultMaxBootAttempts; i++ {
		out, err = runLauncher(t, factory, f.dir)
		if err == nil {
			t.Fatalf("start %d of a crashing release succeeded: %s", i, out)
		}
		wantLines(t, out, "launch 1.0.0 slot=b trial=true attempt="+string(rune('0'+i)), "crash 4.0.0")
	}
	out, err = runLauncher(t, factory, f.dir)
	if err != nil {
		t.Fatalf("launcher: %v\n%s", err, strings.Join(out, "\n"))
	}
	wantLines(t, out, "status rolled_back 4.0.0 boot_loop", "launch 1.0.0 slot=a trial=false attempt=0", `running 2.0.0 slot="a"`)
	if s := f.state(); s.ActiveVersion() != "2.0.0" || len(s.FailedHashes) != 2 {
		t.Fatalf("final state %+v", s)
	}
}
