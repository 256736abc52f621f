package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camwarden/camwarden/board/boardtest"
	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/enforce/watchdog"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report/reporttest"
	"github.com/camwarden/camwarden/ota/command"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/sign/signtest"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
)

// stagedDaemon builds a daemon through the policy stage, with a fake broker
// link, the way Run does.
func stagedDaemon(t *testing.T, cfg config.Config, up *reporttest.Uplink) *daemon {
	t.Helper()
	cfg.StateDir = t.TempDir()
	d, err := newDaemon(context.Background(), cfg, RunOptions{Board: boardtest.New(), Uplink: up})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(); d.g.Wait(); d.close() })
	for _, f := range []func() error{d.startBoard, d.startReporting, d.startEnforcer, d.startInventory, d.startPolicy} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func policyConfig(a *signtest.Authority, id, site string) config.Config {
	cfg := config.Default()
	cfg.ApplianceID, cfg.Site = id, site
	cfg.Policy.RootKey = a.RootPublic()
	return cfg
}

func signedPolicy(a *signtest.Authority, v uint64, muts ...func(*policy.Document)) []byte {
	now := time.Now().UTC().Add(-time.Second)
	doc := policy.Document{Type: policy.DocumentType, Version: v, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		Scope: policy.Scope{Appliances: []string{"*"}}, FlaggedMakers: []string{"hikvision"}}
	for _, m := range muts {
		m(&doc)
	}
	return a.SignJSON(sign.RolePolicy, doc)
}

func lastReported(t *testing.T, up *reporttest.Uplink) ReportedPayload {
	t.Helper()
	msgs := up.Published("/policy/reported")
	if len(msgs) == 0 {
		t.Fatal("nothing on policy/reported")
	}
	var r ReportedPayload
	if err := json.Unmarshal(msgs[len(msgs)-1].Payload, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// A signature pushed in a signed policy changes a live device's verdict:
// a banner the built-in signatures do not know becomes Hikvision (an OEM
// learned in the field), the device is re-decided and re-reported flagged,
// all without a restart, through the daemon's own broker link.
func TestPolicySignatureChangesVerdictLive(t *testing.T) {
	a := signtest.New(t, time.Now().Add(-time.Minute))
	up := &reporttest.Uplink{ApplianceID: "app1"}
	d := stagedDaemon(t, policyConfig(a, "app1", ""), up)
	if !up.Deliver("camwarden/v1/fleet/keys", a.SignedKeySet()) {
		t.Fatalf("the daemon did not subscribe to the key set: %v", up.Subscribed())
	}

	cam := net.HardwareAddr{0x02, 0xac, 0x3e, 0, 0, 7} // locally administered: no OUI evidence
	d.pipe.Sink(probes.Observation{MAC: cam, IP: netip.MustParseAddr("198.18.1.77"), Probe: "http",
		Facts: []probes.Fact{probes.F("http.server", "AcmeVision-Webs/3.2")}})
	waitUntil(t, "the device reported", func() bool { devs, _ := up.Snapshot(); return len(devs) > 0 })
	if devs, _ := up.Snapshot(); devs[len(devs)-1].Maker != "" || devs[len(devs)-1].Flagged {
		t.Fatalf("before the policy: %+v", devs[len(devs)-1])
	}

	up.Deliver("camwarden/v1/app1/policy", signedPolicy(a, 1, func(doc *policy.Document) {
		doc.Signatures = `schema: 1
signatures:
- id: hikvision.acmevision-oem
  when: [{fact: http.server, prefix: "AcmeVision-Webs/"}]
  maker: hikvision
  brand: AcmeVision
  strength: strong
  reason: AcmeVision relabels Hikvision firmware (its web server is App-webs renamed)
`
	}))
	devs, _ := up.Snapshot()
	dev := devs[len(devs)-1]
	if dev.Maker != "hikvision" || dev.Brand != "AcmeVision" || !dev.Flagged || dev.Confidence != "strong" {
		t.Fatalf("after the policy: %+v", dev)
	}
	if v := d.enf.Status().Policy; v != 1 {
		t.Fatalf("enforcer runs policy %d, want 1", v)
	}
	if s := d.settings.Load(); s.Version != 1 || s.Enforce.Version != 1 {
		t.Fatalf("snapshot v%d (rules v%d), want both 1", s.Version, s.Enforce.Version)
	}
}

// A policy scoped to sites applies on an appliance configured with one of
// them and is refused (out_of_scope) on any other.
func TestSiteScopedPolicy(t *testing.T) {
	a := signtest.New(t, time.Now().Add(-time.Minute))
	scoped := signedPolicy(a, 4, func(doc *policy.Document) {
		doc.Scope = policy.Scope{Sites: []string{"london-hq"}}
		doc.Actions = map[string]string{"hikvision": "isolate"}
	})
	for _, tc := range []struct {
		site    string
		applied bool
	}{{"london-hq", true}, {"paris-ops", false}, {"", false}} {
		up := &reporttest.Uplink{ApplianceID: "app-" + tc.site}
		d := stagedDaemon(t, policyConfig(a, "app-"+tc.site, tc.site), up)
		up.Deliver("camwarden/v1/fleet/keys", a.SignedKeySet())
		up.Deliver("camwarden/v1/fleet/policy", scoped)
		rep := lastReported(t, up)
		v := d.settings.Load().Version
		if tc.applied && (v != 4 || rep.Status != policy.StatusApplied || d.enf.Policy().Actions["hikvision"] != "isolate") {
			t.Errorf("site %q: in force v%d, reported %s %q, want v4 applied", tc.site, v, rep.Status, rep.Reason)
		}
		if !tc.applied && (v != 0 || rep.Status != policy.StatusRejected || !strings.HasPrefix(rep.Reason, policy.CodeOutOfScope)) {
			t.Errorf("site %q: in force v%d, reported %s %q, want rejected out_of_scope", tc.site, v, rep.Status, rep.Reason)
		}
	}
}

// A signed policy's probe settings reach the scheduler live: the sweep
// interval and disabled probes come from the snapshot in force.
func TestSignedProbeSettingsApplyLive(t *testing.T) {
	a := signtest.New(t, time.Now().Add(-time.Minute))
	up := &reporttest.Uplink{ApplianceID: "app1"}
	cfg := policyConfig(a, "app1", "")
	cfg.Probing.SweepInterval = 0
	d := stagedDaemon(t, cfg, up)
	if d.sweepInterval() != 0 || !d.probeAllowed("onvif") {
		t.Fatal("configured settings not in force at start")
	}
	up.Deliver("camwarden/v1/fleet/keys", a.SignedKeySet())
	up.Deliver("camwarden/v1/fleet/policy", signedPolicy(a, 2, func(doc *policy.Document) {
		doc.Probes = policy.Probes{SweepInterval: policy.Duration(10 * time.Minute), Disabled: []string{"onvif"}}
	}))
	if got := d.sweepInterval(); got != 10*time.Minute {
		t.Fatalf("sweep interval %v after the signed policy, want 10m", got)
	}
	if d.probeAllowed("onvif") || !d.probeAllowed("http") {
		t.Fatal("signed probes.disabled not applied")
	}
}

// The scheduler re-reads its interval while waiting: periodic sweeps start
// when a policy sets an interval and stop when it is withdrawn.
func TestSchedulerIntervalChangesLive(t *testing.T) {
	old := intervalPoll
	intervalPoll = 10 * time.Millisecond
	defer func() { intervalPoll = old }()
	var iv atomic.Int64
	disc := &countingDiscoverer{}
	s := &Scheduler{Discoverers: []probes.Discoverer{disc}, Links: []probes.Link{{}}, Discovery: time.Second,
		Interval: func() time.Duration { return time.Duration(iv.Load()) }, Target: func(string) (probes.Target, bool) { return probes.Target{}, false }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(150 * time.Millisecond)
	if n := disc.n.Load(); n != 0 {
		t.Fatalf("%d sweeps with no interval", n)
	}
	iv.Store(int64(30 * time.Millisecond))
	waitUntil(t, "periodic sweeps after the interval was set", func() bool { return disc.n.Load() >= 3 })
	iv.Store(0)
	time.Sleep(60 * time.Millisecond)
	n := disc.n.Load()
	time.Sleep(200 * time.Millisecond)
	if m := disc.n.Load(); m != n {
		t.Fatalf("%d sweeps after the interval was withdrawn", m-n)
	}
}

type countingDiscoverer struct{ n atomic.Int64 }

func (*countingDiscoverer) Name() string { return "count" }
func (c *countingDiscoverer) Discover(context.Context, probes.Link, probes.Sink) error {
	c.n.Add(1)
	return nil
}

// A pipeline that stops turning (here: a classifier that never returns)
// stops the watchdog's keepalives, so systemd restarts the daemon instead
// of being told all is well.
func TestStalledPipelineStopsWatchdogPings(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	var stalled atomic.Bool
	p := NewPipeline(&Pipeline{Inv: mustInventory(t), GoneAfter: time.Hour,
		Classify: func(net.HardwareAddr, []probes.Fact) classify.Verdict {
			if stalled.Load() {
				<-block
			}
			return classify.Verdict{}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx, 10*time.Millisecond, 0)

	var mu sync.Mutex
	var pings []time.Time
	wd, err := watchdog.New(watchdog.Options{Interval: 10 * time.Millisecond, Notify: func(s string) (bool, error) {
		if s == "WATCHDOG=1" {
			mu.Lock()
			pings = append(pings, time.Now())
			mu.Unlock()
		}
		return true, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	wd.Register("pipeline", pipelineCheck(p, 100*time.Millisecond, time.Now))
	go wd.Run(ctx)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(pings) }
	waitUntil(t, "keepalives while the pipeline turns", func() bool { return count() >= 5 })

	stalled.Store(true)
	p.Sink(probes.Observation{MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 1}, Probe: "arp",
		Facts: []probes.Fact{probes.F("arp.op", "request")}})
	stuckAt := time.Now()
	time.Sleep(400 * time.Millisecond)
	mu.Lock()
	var late int
	for _, at := range pings {
		if at.After(stuckAt.Add(150 * time.Millisecond)) {
			late++
		}
	}
	mu.Unlock()
	if late != 0 {
		t.Fatalf("%d keepalives more than 150 ms after the pipeline stalled", late)
	}
}

// Through Run with a fake broker link: telemetry goes out on its interval,
// a signed command is answered, and state.json names the appliance, its
// site and the broker link.
func TestRunTelemetryCommandsAndState(t *testing.T) {
	a := signtest.New(t, time.Now().Add(-time.Minute))
	up := &reporttest.Uplink{ApplianceID: "app1"}
	cfg := policyConfig(a, "app1", "lab-site")
	cfg.StateDir = t.TempDir()
	cfg.MQTT.TeleInterval = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, RunOptions{Board: boardtest.New(), Uplink: up}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitUntil(t, "telemetry", func() bool { return len(up.Tele()) > 0 })
	tele, ok := up.Tele()[0].(Telemetry)
	if !ok {
		t.Fatalf("telemetry is %T", up.Tele()[0])
	}
	if tele.Goroutines == 0 || tele.HeapBytes == 0 {
		t.Fatalf("telemetry %+v", tele)
	}

	waitUntil(t, "subscriptions", func() bool { return slices.Contains(up.Subscribed(), "camwarden/v1/app1/cmd/+") })
	up.Deliver("camwarden/v1/fleet/keys", a.SignedKeySet())
	nonce := "0123456789abcdef0123"
	up.Deliver("camwarden/v1/app1/cmd/ack", a.SignJSON(sign.RoleCommand, command.Command{Type: command.Type, Name: "ack",
		Appliance: "app1", Nonce: nonce, IssuedAt: time.Now().UTC(), ExpiresAt: time.Now().UTC().Add(time.Minute)}))
	res := up.Published("/cmd/ack/res")
	if len(res) != 1 {
		t.Fatalf("%d answers on cmd/ack/res", len(res))
	}
	var r CommandResultPayload
	if err := json.Unmarshal(res[0].Payload, &r); err != nil {
		t.Fatal(err)
	}
	if r.Nonce != nonce || r.OK || !strings.Contains(r.Reason, "uplink not cut") {
		t.Fatalf("ack with no cut answered %+v", r.Result)
	}

	var snap Snapshot
	waitUntil(t, "state.json", func() bool {
		s, err := ReadSnapshot(cfg.StateDir)
		snap = s
		return err == nil && s.Appliance != ""
	})
	if snap.Appliance != "app1" || snap.Site != "lab-site" || !snap.Broker.Configured || !snap.Broker.Connected {
		t.Fatalf("snapshot %+v", snap)
	}
	var b strings.Builder
	if err := WriteStatus(&b, "app1", snap); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "broker:     connected") {
		t.Fatalf("status has no broker line:\n%s", b.String())
	}
	// The daemon runs in this test's process.
	if want := fmt.Sprintf("daemon:     running (pid %d)", os.Getpid()); !strings.Contains(b.String(), want) {
		t.Fatalf("status does not say %q:\n%s", want, b.String())
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Open(inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// After a restart (a SIGKILL, a power cut) the devices the inventory kept
// are reported again at once, so `camwarden status`, state.json and
// explain count the same devices (status said 1,303 while state.json knew
// 253 before).
func TestRestartReportsPersistedDevices(t *testing.T) {
	state := t.TempDir()
	start := func() *daemon {
		cfg := config.Default()
		cfg.ApplianceID, cfg.StateDir = "app1", state
		d, err := newDaemon(context.Background(), cfg, RunOptions{Board: boardtest.New(), Reporter: &reporttest.Recorder{}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []func() error{d.startBoard, d.startReporting, d.startEnforcer, d.startInventory} {
			if err := f(); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	d := start()
	for i := range 3 {
		d.pipe.Sink(probes.Observation{MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, byte(i + 1)},
			IP: netip.AddrFrom4([4]byte{198, 18, 1, byte(10 + i)}), Probe: "arp", Facts: []probes.Fact{probes.F("arp.op", "reply")}})
	}
	waitUntil(t, "three devices", func() bool { return len(d.pipe.Views()) == 3 })
	if err := d.inv.Flush(); err != nil {
		t.Fatal(err)
	}
	d.stop()
	d.g.Wait()
	d.close()

	d2 := start()
	t.Cleanup(func() { d2.stop(); d2.g.Wait(); d2.close() })
	waitUntil(t, "the persisted devices reported again", func() bool { return len(d2.pipe.Views()) == 3 })
	if st := d2.status(); st.Devices != 3 || d2.inv.Len() != 3 {
		t.Fatalf("status counts %d devices, inventory %d, views %d", st.Devices, d2.inv.Len(), len(d2.pipe.Views()))
	}
}

// A host seen on the link with an address outside the subnets the
// installer scoped it to is listed but never probed.
func TestProbingStaysInsideConfiguredSubnets(t *testing.T) {
	d := &daemon{links: []probes.Link{{Subnets: []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24")}}}}
	for ip, want := range map[string]bool{"198.18.1.40": true, "198.18.130.7": false, "10.1.2.3": false} {
		if got := d.inScope(inventory.Device{IP: netip.MustParseAddr(ip)}); got != want {
			t.Errorf("%s in scope = %v, want %v", ip, got, want)
		}
	}
	if (&daemon{links: []probes.Link{{}}}).inScope(inventory.Device{IP: netip.MustParseAddr("198.18.1.40")}) {
		t.Error("a link nobody scoped lets probes out")
	}
}
