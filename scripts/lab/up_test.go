package lab_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

const testPrefix = "cwt-lab"

var (
	camsimOnce sync.Once
	camsimBin  string
	camsimErr  error
	camsimDir  string
)

// buildCamsim builds the emulator once per test binary.
func buildCamsim(t *testing.T) string {
	t.Helper()
	camsimOnce.Do(func() {
		camsimDir, camsimErr = os.MkdirTemp("", "cwt-lab-camsim")
		if camsimErr != nil {
			return
		}
		camsimBin = filepath.Join(camsimDir, "camsim")
		out, err := exec.Command("go", "build", "-o", camsimBin, "github.com/camwarden/camwarden/probes/camsim/cmd/camsim").CombinedOutput()
		if err != nil {
			camsimErr = errors.New("go build camsim: " + err.Error() + "\n" + string(out))
		}
	})
	if camsimErr != nil {
		t.Fatal(camsimErr)
	}
	return camsimBin
}

func TestMain(m *testing.M) {
	if os.Getenv("CWT_LAB_HELPER") == "up-and-crash" {
		helperUpAndCrash()
		return
	}
	code := m.Run()
	if camsimDir != "" {
		os.RemoveAll(camsimDir)
	}
	os.Exit(code)
}

const smallSpec = `
name: small
devices:
  - profile: hikvision
  - profile: pc
  - profile: printer
`

func smallOpts(t testing.TB, stateDir, bin string) lab.Options {
	return lab.Options{Prefix: testPrefix, Camsim: bin, StateDir: stateDir, ReadyTimeout: 15 * time.Second, Grace: 2 * time.Second}
}

func nsList(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func TestUpReachUplinkDown(t *testing.T) {
	labtest.RequireRoot(t)
	bin := buildCamsim(t)
	spec, err := lab.ParseSpec([]byte(smallSpec), "small")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	stateDir := t.TempDir()
	start := time.Now()
	var stages []string
	opts := smallOpts(t, stateDir, bin)
	opts.Progress = func(p lab.Progress) { stages = append(stages, p.Stage) }
	l, err := lab.Up(ctx, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("up with 3 devices in %s", time.Since(start))
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	if !slices.Contains(stages, "camsim") || !slices.Contains(stages, "hosts") {
		t.Errorf("progress stages %v lack hosts/camsim", stages)
	}

	// Namespaces.
	have := nsList(t)
	for _, ns := range []string{"cwt-lab-sw", "cwt-lab-gw", "cwt-lab-core", "cwt-lab-app", "cwt-lab-hikvision", "cwt-lab-pc", "cwt-lab-printer"} {
		if !slices.Contains(have, ns) {
			t.Errorf("namespace %s missing (have %v)", ns, have)
		}
	}
	if got := l.Namespaces(); len(got) != 7 {
		t.Errorf("Namespaces() = %v", got)
	}

	// Ground truth, MACs and addresses as seen inside each namespace.
	devs := l.Devices()
	want := []struct {
		name, mac, ip, maker string
		flagged              bool
	}{
		{"hikvision", "58:50:ed:c4:00:01", "198.18.1.10", "hikvision", true},
		{"pc", "00:13:02:c4:00:01", "198.18.1.11", "", false},
		{"printer", "00:01:e6:c4:00:01", "198.18.1.12", "hp", false},
	}
	if len(devs) != len(want) {
		t.Fatalf("Devices() = %d, want %d", len(devs), len(want))
	}
	for i, w := range want {
		d := devs[i]
		if d.Name != w.name || d.MAC.String() != w.mac || d.IP.String() != w.ip || d.Maker != w.maker || d.Flagged != w.flagged {
			t.Errorf("device %d = %+v, want %+v", i, d, w)
		}
		if !l.Alive(d) {
			t.Errorf("%s: camsim pid %d not alive", d.Name, d.PID)
		}
		if b, err := os.ReadFile(d.Pidfile); err != nil || strings.TrimSpace(string(b)) == "" {
			t.Errorf("%s: pidfile %s: %q %v", d.Name, d.Pidfile, b, err)
		}
		var ifi *net.Interface
		var addrs []net.Addr
		if err := lab.InNS(d.NS, func() (err error) {
			if ifi, err = net.InterfaceByName("eth0"); err != nil {
				return err
			}
			addrs, err = ifi.Addrs()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if ifi.HardwareAddr.String() != w.mac {
			t.Errorf("%s: eth0 MAC %s, want %s", d.Name, ifi.HardwareAddr, w.mac)
		}
		found := false
		for _, a := range addrs {
			if strings.HasPrefix(a.String(), w.ip+"/24") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: eth0 addresses %v lack %s/24", d.Name, addrs, w.ip)
		}
	}

	// A camera reaches the core host only through the gateway's uplink.
	if _, err := l.Ping(ctx, "hikvision", lab.CoreIP, 2*time.Second); err != nil {
		t.Fatalf("camera -> core with uplink up: %v", err)
	}
	if _, err := l.Ping(ctx, "app", lab.CoreIP, 2*time.Second); err != nil {
		t.Fatalf("appliance -> core with uplink up: %v", err)
	}
	if _, err := l.Ping(ctx, "pc", netip.MustParseAddr("198.18.1.12"), 2*time.Second); err != nil {
		t.Fatalf("pc -> printer on the VLAN: %v", err)
	}
	// Cut the way the lab relay does.
	if out, err := exec.Command("ip", "-n", l.GatewayNS(), "link", "set", lab.UplinkLink, "down").CombinedOutput(); err != nil {
		t.Fatalf("uplink down: %v %s", err, out)
	}
	if up, err := l.Uplink(ctx); err != nil || up {
		t.Fatalf("Uplink() = %v, %v after cut", up, err)
	}
	if _, err := l.Ping(ctx, "hikvision", lab.CoreIP, time.Second); err == nil {
		t.Fatal("camera still reaches core with the uplink down")
	} else {
		t.Logf("cut: %v", err)
	}
	// The VLAN itself still works while cut.
	if _, err := l.Ping(ctx, "hikvision", lab.GatewayIP, 2*time.Second); err != nil {
		t.Fatalf("camera -> gateway while cut: %v", err)
	}
	if err := l.SetUplink(ctx, true); err != nil {
		t.Fatal(err)
	}
	if up, err := l.Uplink(ctx); err != nil || !up {
		t.Fatalf("Uplink() = %v, %v after restore", up, err)
	}
	var perr error
	for range 20 { // the veth needs a moment to carry again
		if _, perr = l.Ping(ctx, "hikvision", lab.CoreIP, 500*time.Millisecond); perr == nil {
			break
		}
	}
	if perr != nil {
		t.Fatalf("camera -> core after restore: %v", perr)
	}
	// Only lab addresses may be pinged.
	if _, err := l.Ping(ctx, "hikvision", netip.MustParseAddr("192.0.2.1"), time.Second); err == nil {
		t.Fatal("ping outside the lab range was allowed")
	}

	// Down removes everything and can run again.
	start = time.Now()
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("down in %s", time.Since(start))
	assertGone(t, l, devs, stateDir)
	if err := l.Down(ctx); err != nil {
		t.Fatalf("second Down: %v", err)
	}
	if err := lab.Down(ctx, lab.Options{Prefix: testPrefix, StateDir: stateDir}); err != nil {
		t.Fatalf("package Down after Down: %v", err)
	}
}

func assertGone(t *testing.T, l *lab.Lab, devs []lab.Device, stateDir string) {
	t.Helper()
	have := nsList(t)
	for _, ns := range have {
		if strings.HasPrefix(ns, testPrefix+"-") {
			t.Errorf("namespace %s left behind", ns)
		}
	}
	for _, d := range devs {
		if l.Alive(d) {
			t.Errorf("%s: camsim pid %d still alive", d.Name, d.PID)
		}
	}
	if _, err := os.Stat(filepath.Join(stateDir, "state.json")); !os.IsNotExist(err) {
		t.Errorf("state file left behind: %v", err)
	}
}

// helperUpAndCrash runs in a child process: it brings the lab up and exits
// without Down, as a killed `cwlab up` or test would.
func helperUpAndCrash() {
	spec, err := lab.ParseSpec([]byte(smallSpec), "small")
	if err != nil {
		os.Stderr.WriteString(err.Error())
		os.Exit(3)
	}
	opts := lab.Options{Prefix: testPrefix, Camsim: os.Getenv("CWT_LAB_CAMSIM"), StateDir: os.Getenv("CWT_LAB_STATE")}
	if _, err := lab.Up(context.Background(), spec, opts); err != nil {
		os.Stderr.WriteString(err.Error())
		os.Exit(4)
	}
	os.Exit(0)
}

func TestDownAfterCrashFromStateFile(t *testing.T) {
	labtest.RequireRoot(t)
	bin := buildCamsim(t)
	stateDir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CWT_LAB_HELPER=up-and-crash", "CWT_LAB_CAMSIM="+bin, "CWT_LAB_STATE="+stateDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := lab.Options{Prefix: testPrefix, StateDir: stateDir, Grace: 2 * time.Second}
	l, err := lab.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Down(context.Background(), opts) })
	devs := l.Devices()
	if len(devs) != 3 {
		t.Fatalf("state lists %d devices", len(devs))
	}
	for _, d := range devs {
		if !l.Alive(d) {
			t.Fatalf("%s: orphaned camsim %d should still run", d.Name, d.PID)
		}
	}
	// The appliance (or anything else) left running in a lab namespace is
	// stopped too: found by namespace, not by name.
	sleeper := lab.NSCommand(context.Background(), l.AppNS(), "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sleeper.Wait() }()

	if err := lab.Down(ctx, opts); err != nil {
		t.Fatal(err)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Error("process in the appliance namespace survived Down")
	}
	assertGone(t, l, devs, stateDir)
	if err := lab.Down(ctx, opts); err != nil {
		t.Fatalf("second Down: %v", err)
	}
	if _, err := lab.Open(opts); !errors.Is(err, lab.ErrNoLab) {
		t.Fatalf("Open after Down: %v, want ErrNoLab", err)
	}
}

// An emulator that dies before it is ready fails Up with its log, and Up
// leaves nothing behind.
func TestUpFailureCleansUp(t *testing.T) {
	labtest.RequireRoot(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad-camsim")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho 'cannot listen: simulated' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec, err := lab.ParseSpec([]byte(smallSpec), "small")
	if err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := lab.Up(ctx, spec, smallOpts(t, stateDir, bad))
	if err == nil {
		l.Down(ctx)
		t.Fatal("Up succeeded with emulators that exit")
	}
	if !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "cannot listen: simulated") {
		t.Errorf("error does not say which emulator failed and why: %v", err)
	}
	for _, ns := range nsList(t) {
		if strings.HasPrefix(ns, testPrefix+"-") {
			t.Errorf("namespace %s left after a failed Up", ns)
		}
	}
	if _, err := lab.Open(lab.Options{Prefix: testPrefix, StateDir: stateDir}); !errors.Is(err, lab.ErrNoLab) {
		t.Errorf("state after failed Up: %v", err)
	}
}

// The site-sized lab comes up with every emulator ready and every device
// reachable from the appliance namespace.
func TestLab50(t *testing.T) {
	if testing.Short() {
		t.Skip("56 namespaces and emulators: skipped with -short")
	}
	labtest.RequireRoot(t)
	bin := buildCamsim(t)
	spec, err := lab.LoadSpec("lab50")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	start := time.Now()
	l, err := lab.Up(ctx, spec, smallOpts(t, t.TempDir(), bin))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Down(context.Background()) })
	t.Logf("%d devices up in %s", len(l.Devices()), time.Since(start))
	for _, d := range l.Devices() {
		if !l.Alive(d) {
			t.Errorf("%s: emulator not running", d.Name)
		}
		if _, err := l.Ping(ctx, "app", d.IP, 2*time.Second); err != nil {
			t.Errorf("appliance -> %s: %v", d.Name, err)
		}
	}
	start = time.Now()
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("down in %s", time.Since(start))
}
