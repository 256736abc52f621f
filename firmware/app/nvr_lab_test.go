package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/app"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// nvrSpec is a site whose cameras hang off recorders' own PoE ports.
const nvrSpec = `name: nvrs
devices:
  - profile: hikvision-nvr
  - profile: hikvision-nvr-old
  - profile: lorex-nvr
  - profile: wisenet-nvr
  - profile: axis
`

func upNVRLab(t *testing.T, prefix string) *lab.Lab {
	t.Helper()
	labtest.RequireRoot(t)
	spec, err := lab.ParseSpec([]byte(nvrSpec), "nvr lab test")
	if err != nil {
		t.Fatal(err)
	}
	return upSpec(t, prefix, spec, true)
}

// nvrCredentials are the installer's recorder credentials: one per
// recorder address, plus a wrong one tried first for every device, which
// must cost each recorder exactly one failed login and never lock it.
func nvrCredentials(t *testing.T, l *lab.Lab, skip string) (yaml string, secrets []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("  credentials:\n    - {user: admin, password: \"Wrong-Guess-1!\"}\n")
	secrets = append(secrets, "Wrong-Guess-1!")
	for _, d := range l.Devices() {
		p, err := camsim.Lookup(d.Profile)
		if err != nil {
			t.Fatal(err)
		}
		if p.NVR == nil || d.Profile == skip {
			continue
		}
		user, pw := p.NVR.User, p.NVR.Password
		if p.NVR.Kind == "onvif" && p.ONVIF != nil {
			user, pw = p.ONVIF.User, p.ONVIF.Password
		}
		fmt.Fprintf(&b, "    - {user: %q, password: %q, addresses: [%s]}\n", user, pw, d.IP)
		secrets = append(secrets, pw)
	}
	return b.String(), secrets
}

// A survey reads the cameras behind every recorder it can log into: each
// channel is a device of its own ({recorder mac}/ch{n}) with the maker and
// flag its ground truth says, listed behind its recorder; a recorder whose
// channels it cannot list is shown as so many cameras to review, never as
// one clean device; no password appears in anything the survey writes.
func TestLabSurveyReadsCamerasBehindRecorders(t *testing.T) {
	l := upNVRLab(t, "cwnv")
	creds, secrets := nvrCredentials(t, l, "")
	cfgPath := filepath.Join(t.TempDir(), "survey.yaml")
	if err := os.WriteFile(cfgPath, []byte("probing:\n"+creds), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (out, errOut []byte) {
		cmd, err := l.Command(context.Background(), "app", filepath.Join(binaries(t), "camwarden"),
			append([]string{"survey", "--iface", "eth0", "--duration", "60s", "--config", cfgPath}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		o, err := cmd.Output()
		if err != nil {
			t.Fatalf("survey: %v\n%s", err, stderr.String())
		}
		t.Logf("survey %v took %s", args, time.Since(start).Round(time.Millisecond))
		return o, stderr.Bytes()
	}
	out, stderr := run("--json")
	devs, err := app.ReadJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]report.Device{}
	for _, d := range devs {
		byKey[d.Key()] = d
	}
	for _, rec := range l.Devices() {
		p, _ := camsim.Lookup(rec.Profile)
		if p.NVR == nil {
			continue
		}
		nd, ok := byKey[rec.MAC.String()]
		if !ok {
			t.Errorf("%s: recorder missing from the survey", rec.Name)
			continue
		}
		if p.NVR.Kind == "onvif" {
			if nd.Status != report.StatusReview || nd.CamerasBehind == 0 || len(nd.Review) == 0 ||
				!strings.Contains(nd.Review[0], "cameras behind this recorder, not identified") {
				t.Errorf("%s: an unreadable recorder shown as %s (cameras behind %d, review %q)", rec.Name, nd.Status,
					nd.CamerasBehind, nd.Review)
			}
			continue
		}
		n := 0
		for i, ch := range p.NVR.Channels {
			num := ch.Number
			if p.NVR.Kind == "dahua" {
				num = i + 1 // Dahua numbers channels by RemoteDevice order, from 1
			}
			key := fmt.Sprintf("%s/ch%d", rec.MAC, num)
			got, ok := byKey[key]
			if ch.IP == "" && ch.Model == "" && ch.Serial == "" {
				if ok {
					t.Errorf("%s: empty slot %d listed as a device", rec.Name, num)
				}
				continue
			}
			n++
			if !ok {
				t.Errorf("%s: channel %d (%s) missing from the survey", rec.Name, num, ch.Name)
				continue
			}
			if got.Behind == nil || got.Behind.NVR != rec.MAC.String() || got.Behind.Channel != num || got.Behind.IP != ch.IP {
				t.Errorf("%s ch%d: behind = %+v", rec.Name, num, got.Behind)
			}
			wantMaker, wantFlag := ch.TrueMaker, ch.Flagged
			if ch.Model == "" && ch.Serial == "" && !strings.EqualFold(ch.Protocol, "HIKVISION") && !strings.EqualFold(ch.Protocol, "Private") {
				// The recorder says nothing that names this camera (an ONVIF
				// camera with no model): unknown, and never a false flag.
				wantMaker, wantFlag = "", false
			}
			if got.Maker != wantMaker || got.Flagged != wantFlag {
				t.Errorf("%s ch%d (%s, %s): maker %q flagged %v, want %q %v; evidence %v", rec.Name, num, ch.Model,
					ch.Protocol, got.Maker, got.Flagged, wantMaker, wantFlag, got.Evidence)
			}
			// A relabel's brand is knowable from its model (HiWatch HWI-), not
			// from a recorder's "Private" protocol.
			if ch.TrueBrand != "" && p.NVR.Kind == "hikvision" && !strings.EqualFold(got.Brand, ch.TrueBrand) {
				t.Errorf("%s ch%d: brand %q, want %q", rec.Name, num, got.Brand, ch.TrueBrand)
			}
			if ch.Model != "" && ch.Model != "IP Camera" && !p.NVR.Old && got.Model != ch.Model {
				t.Errorf("%s ch%d: model %q, want %q", rec.Name, num, got.Model, ch.Model)
			}
		}
		if nd.CamerasBehind < n {
			t.Errorf("%s: cameras_behind %d, but %d channels listed", rec.Name, nd.CamerasBehind, n)
		}
	}

	// The table lists each channel indented under its recorder.
	table, _ := run()
	if !strings.Contains(string(table), "└ ch1 192.168.254.2") {
		t.Errorf("table does not show channels under their recorder:\n%s", table)
	}
	for _, s := range secrets {
		for what, b := range map[string][]byte{"survey JSON": out, "survey table": table, "survey log": stderr} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("the %s contains a configured password", what)
			}
		}
	}
}

// The daemon acts on cameras behind a recorder like on any device: with
// the recorder itself allow-listed (the installer vouched for the box),
// the Hikvision cameras on its PoE ports still cut the uplink under an
// isolate policy, because their video reaches the core through it; the
// daemon's state lists every channel, and no password reaches its log or
// state files.
func TestLabDaemonIsolatesOnCamerasBehindRecorder(t *testing.T) {
	l := upNVRLab(t, "cwnd")
	rec, ok := l.Device("hikvision-nvr")
	if !ok {
		t.Fatal("no hikvision-nvr in the lab")
	}
	if !coreReachable(l, "axis") {
		t.Fatal("core not reachable before any enforcement")
	}
	creds, secrets := nvrCredentials(t, l, "")
	// Only the recorders' own maker is isolated here, and the recorders are
	// allow-listed: only their cameras can cause the cut.
	var allow strings.Builder
	for _, d := range l.Devices() {
		if p, _ := camsim.Lookup(d.Profile); p.NVR != nil {
			fmt.Fprintf(&allow, "    - {mac: %q, reason: recorder checked on site}\n", d.MAC)
		}
	}
	state := t.TempDir()
	d := startDaemonCfg(t, t, l, state, "probing:\n  sweep_interval: 0s\n"+creds+
		"policy:\n  actions: {hikvision: isolate, dahua: isolate}\n  hold_time: 1s\n  allow:\n"+allow.String())
	waitFor(t, d, 60*time.Second, "the core to become unreachable", func() bool { return !coreReachable(l, "axis") })
	var snap app.Snapshot
	waitFor(t, d, 30*time.Second, "the recorder's channels in the daemon's state", func() bool {
		s, ok := d.snapshot()
		snap = s
		n := 0
		for _, dev := range s.Devices {
			if dev.Behind != nil && dev.Behind.NVR == rec.MAC.String() {
				n++
			}
		}
		return ok && n == 7
	})
	var why []string
	for _, dev := range snap.Devices {
		if dev.MAC == rec.MAC.String() && dev.Action != "allowed" {
			t.Errorf("recorder not allow-listed: action %q", dev.Action)
		}
		if dev.Behind != nil && dev.Action == "isolate" {
			why = append(why, dev.ID)
		}
	}
	if len(why) == 0 {
		t.Fatalf("uplink cut, but no camera behind a recorder is isolating: %+v", snap.Relay)
	}
	t.Logf("cut for cameras behind recorders: %v; relay waits for %v", why, snap.Relay.WaitingFor)
	for _, w := range snap.Relay.WaitingFor {
		if w == rec.MAC.String() {
			t.Errorf("the allow-listed recorder itself holds the cut")
		}
	}
	d.stop(t)
	files, _ := filepath.Glob(filepath.Join(state, "*"))
	for _, s := range secrets {
		if strings.Contains(d.log.String(), s) {
			t.Errorf("the daemon log contains a configured password")
		}
		for _, f := range files {
			if strings.HasSuffix(f, "camwarden.yaml") {
				continue // the test's own configuration
			}
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains a configured password", f)
			}
		}
	}
}
