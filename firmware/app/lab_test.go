package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/app"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds camwarden and camsim once per test binary.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "camwarden-e2e-")
		if buildErr != nil {
			return
		}
		for name, pkg := range map[string]string{"camwarden": "./firmware/cmd/camwarden", "camsim": "./probes/camsim/cmd/camsim"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg)
			cmd.Dir = "../.."
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func upLab(t *testing.T, prefix string) *lab.Lab {
	t.Helper()
	spec, err := lab.LoadSpec("lab")
	if err != nil {
		t.Fatal(err)
	}
	return upSpec(t, prefix, spec, true)
}

// upSpec brings up spec under prefix (with the emulators running when
// emulate, else bare hosts that tests boot themselves) and tears it down
// when the test ends.
func upSpec(t *testing.T, prefix string, spec *lab.Spec, emulate bool) *lab.Lab {
	t.Helper()
	labtest.RequireRoot(t)
	opts := lab.Options{Prefix: prefix, StateDir: filepath.Join(t.TempDir(), "lab")}
	if emulate {
		opts.Camsim = filepath.Join(binaries(t), "camsim")
	}
	lab.Down(context.Background(), opts) // leftovers of a killed run
	l, err := lab.Up(context.Background(), spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(context.Background()); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	return l
}

// The foundation's promise: a survey from the appliance's namespace lists
// every lab device with its MAC and IP, and names maker, brand and flag as
// the profile's ground truth says.
func TestLabSurveyIdentifiesEveryDevice(t *testing.T) {
	l := upLab(t, "cwsv")
	bin := binaries(t)
	// The installer's credential list: every password the lab's cameras accept.
	var creds strings.Builder
	seen := map[string]bool{}
	for _, d := range l.Devices() {
		p, err := camsim.Lookup(d.Profile)
		if err != nil {
			t.Fatal(err)
		}
		if o := p.ONVIF; o != nil && o.User != "" && !seen[o.User+o.Password] {
			seen[o.User+o.Password] = true
			fmt.Fprintf(&creds, "    - {user: %q, password: %q}\n", o.User, o.Password)
		}
	}
	cfgPath := filepath.Join(t.TempDir(), "survey.yaml")
	if err := os.WriteFile(cfgPath, []byte("probing:\n  onvif_credentials:\n"+creds.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, err := l.Command(context.Background(), "app", filepath.Join(bin, "camwarden"), "survey", "--iface", "eth0",
		"--duration", "30s", "--json", "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("survey: %v\n%s", err, stderr.String())
	}
	t.Logf("survey of %d lab devices took %s", len(l.Devices()), time.Since(start).Round(time.Millisecond))
	devs, err := app.ReadJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	byMAC := map[string]int{}
	for i, d := range devs {
		byMAC[d.MAC] = i
	}
	// Nothing but the lab's devices and its gateway: the switch's own
	// bridge and ports are not devices.
	known := map[string]bool{lab.GatewayMAC.String(): true}
	for _, d := range l.Devices() {
		known[d.MAC.String()] = true
	}
	for _, d := range devs {
		if d.Behind != nil {
			continue // a camera behind the lab's recorder (nvr_lab_test.go checks those)
		}
		if !known[d.MAC] {
			t.Errorf("survey lists %s (ip %q, evidence %v), which is not a lab device", d.MAC, d.IP, d.Evidence)
		}
	}
	for _, want := range l.Devices() {
		i, ok := byMAC[want.MAC.String()]
		if !ok {
			t.Errorf("%s (%s %s): missing from the survey", want.Name, want.MAC, want.IP)
			continue
		}
		got := devs[i]
		if got.IP != want.IP.String() {
			t.Errorf("%s: ip %s, want %s", want.Name, got.IP, want.IP)
		}
		if got.Maker != want.Maker {
			t.Errorf("%s: maker %q, want %q (evidence %v)", want.Name, got.Maker, want.Maker, got.Evidence)
		}
		if got.Brand != want.Brand {
			t.Errorf("%s: brand %q, want %q", want.Name, got.Brand, want.Brand)
		}
		if got.Flagged != want.Flagged {
			t.Errorf("%s: flagged %v, want %v (maker %q, components %v, confidence %s)", want.Name, got.Flagged,
				want.Flagged, got.Maker, got.Components, got.Confidence)
		}
		// Model and serial, wherever the device reveals them (SADP, DHIP,
		// ONVIF with credentials, UPnP). Hikvision's DeviceSN embeds the
		// short serial; UPnP model names may carry the brand in front.
		p, _ := camsim.Lookup(want.Profile)
		reveals := p.SADP != nil || p.DHIP != nil || p.ONVIF != nil || p.SSDP != nil
		if reveals && want.Model != "" && !strings.Contains(got.Model, want.Model) {
			t.Errorf("%s: model %q, want %q", want.Name, got.Model, want.Model)
		}
		if reveals && want.Serial != "" && !strings.Contains(got.Serial, want.Serial) {
			t.Errorf("%s: serial %q, want %q", want.Name, got.Serial, want.Serial)
		}
	}
}

// daemon is camwarden run inside the lab's appliance namespace.
type daemon struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   *bytes.Buffer
	state string
}

// startDaemon starts camwarden run; owner is the test whose end stops it
// (a parent, when the daemon outlives one subtest).
func startDaemon(t, owner *testing.T, l *lab.Lab, stateDir, policy string) *daemon {
	t.Helper()
	return startDaemonCfg(t, owner, l, stateDir, "probing: {sweep_interval: 0s}\npolicy: "+policy+"\n")
}

// startDaemonCfg runs the daemon with extra configuration lines (probing
// and policy sections).
func startDaemonCfg(t, owner *testing.T, l *lab.Lab, stateDir, extra string) *daemon {
	t.Helper()
	cfg := fmt.Sprintf(`appliance_id: e2e
state_dir: %s
log_level: debug
interfaces: [{name: eth0, subnets: [198.18.1.0/24]}]
inventory: {gone_after: 3s}
board: {kind: console, lab_relay: {netns: %s, link: %s}}
%s`, stateDir, l.GatewayNS(), lab.UplinkLink, extra)
	path := filepath.Join(stateDir, "camwarden.yaml")
	os.MkdirAll(stateDir, 0o750)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, err := l.Command(context.Background(), "app", filepath.Join(binaries(t), "camwarden"), "run", "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, log: &bytes.Buffer{}, state: stateDir}
	cmd.Stdout, cmd.Stderr = d.log, d.log
	// The console board reads button presses from the daemon's stdin: a
	// blank line is a tap, i.e. an acknowledgement.
	if d.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	owner.Cleanup(func() { d.stop(owner) })
	return d
}

func (d *daemon) stop(t *testing.T) {
	if d.cmd.ProcessState != nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-done
		t.Errorf("daemon did not stop on SIGTERM within 10s\n%s", d.log.String())
	}
}

func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.cmd.Wait()
}

func (d *daemon) snapshot() (app.Snapshot, bool) {
	s, err := app.ReadSnapshot(d.state)
	return s, err == nil
}

func waitFor(t *testing.T, d *daemon, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log := ""
	if d != nil {
		log = d.log.String()
		if len(log) > 8000 {
			log = "..." + log[len(log)-8000:]
		}
	}
	t.Fatalf("timed out after %s waiting for %s\n%s", within, what, log)
}

func coreReachable(l *lab.Lab, from string) bool {
	_, err := l.Ping(context.Background(), from, lab.CoreIP, 700*time.Millisecond)
	return err == nil
}

// Enforcement proven by traffic: alert never cuts; isolate cuts the uplink;
// a SIGKILLed daemon's successor keeps it cut; the acknowledge button
// restores it once the flagged cameras are gone for the hold time; a
// spoofed Hikvision OUI on an Axis never counts.
func TestLabEnforcementByTraffic(t *testing.T) {
	l := upLab(t, "cwen")
	if !coreReachable(l, "axis") {
		t.Fatal("core not reachable from a camera before any enforcement")
	}

	t.Run("alert does not cut", func(t *testing.T) {
		d := startDaemon(t, t, l, t.TempDir(), "{}")
		waitFor(t, d, 20*time.Second, "flagged devices in the snapshot", func() bool {
			s, ok := d.snapshot()
			return ok && s.Status.Flagged >= 9
		})
		if !coreReachable(l, "axis") || !coreReachable(l, "hikvision") {
			t.Fatalf("alert policy cut the uplink\n%s", d.log.String())
		}
		if s, _ := d.snapshot(); s.Status.UplinkCut {
			t.Fatal("alert policy reports the uplink cut")
		}
		d.stop(t)
	})

	state := t.TempDir()
	var d *daemon
	parent := t
	t.Run("isolate cuts", func(t *testing.T) {
		d = startDaemon(t, parent, l, state, "{actions: {hikvision: isolate}, hold_time: 1s}")
		start := time.Now()
		waitFor(t, d, 20*time.Second, "the core to become unreachable", func() bool { return !coreReachable(l, "axis") })
		t.Logf("uplink cut %s after start", time.Since(start).Round(time.Millisecond))
		// The Axis with a spoofed Hikvision OUI may show as weak Hikvision
		// (alert) until its probes answer, but it must never isolate nor
		// latch the cut, and must end up named Axis.
		waitFor(t, d, 20*time.Second, "the spoofed-OUI Axis to be identified", func() bool {
			s, _ := d.snapshot()
			for _, dev := range s.Devices {
				if strings.HasPrefix(dev.MAC, "44:19:b6") {
					if dev.Action == "isolate" || (dev.Maker == "hikvision" && dev.Confidence != "weak") {
						t.Fatalf("spoofed-OUI Axis judged %s/%s, action %s", dev.Maker, dev.Confidence, dev.Action)
					}
					for _, mac := range s.Relay.Latched {
						if mac == dev.MAC {
							t.Fatal("spoofed-OUI Axis latched the cut")
						}
					}
					return dev.Maker == "axis" && !dev.Flagged
				}
			}
			return false
		})
	})
	if t.Failed() {
		return
	}

	t.Run("SIGKILL keeps the cut", func(t *testing.T) {
		d.kill()
		d = startDaemon(t, parent, l, state, "{actions: {hikvision: isolate}, hold_time: 1s}")
		for range 10 {
			if coreReachable(l, "axis") {
				t.Fatalf("restarted daemon reopened the uplink\n%s", d.log.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("acknowledge restores once the cameras are gone", func(t *testing.T) {
		s, _ := d.snapshot()
		var gone []string
		for _, dev := range l.Devices() {
			if dev.Maker == "hikvision" {
				if err := exec.Command("ip", "-n", dev.NS, "link", "set", "eth0", "down").Run(); err != nil {
					t.Fatal(err)
				}
				gone = append(gone, dev.MAC.String())
			}
		}
		t.Logf("unplugged %v (latched %v)", gone, s.Relay.Latched)
		// Latched: gone is not enough without an acknowledgement.
		time.Sleep(5 * time.Second)
		if coreReachable(l, "axis") {
			t.Fatal("uplink restored without an acknowledgement")
		}
		if _, err := io.WriteString(d.stdin, "\n"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, d, 10*time.Second, "the core to be reachable after the acknowledgement", func() bool { return coreReachable(l, "axis") })
	})
}
