package enforce

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/board"
	"github.com/camwarden/camwarden/board/boardtest"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes/classify"
)

const hold = 10 * time.Minute

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t    *testing.T
	clk  *clock
	b    *boardtest.Board
	e    *Enforcer
	path string
	mu   sync.Mutex
	evts []report.Event
	nerr error
}

func newHarness(t *testing.T, p Policy, path string) *harness {
	t.Helper()
	h := &harness{t: t, clk: &clock{t: t0}, path: path}
	h.b = boardtest.New(boardtest.WithClock(h.clk.Now))
	h.start(p)
	return h
}

func (h *harness) start(p Policy) {
	h.t.Helper()
	e, err := New(Options{Board: h.b, Now: h.clk.Now, StateFile: h.path, Policy: &p,
		OnEvent: func(ev report.Event) { h.mu.Lock(); h.evts = append(h.evts, ev); h.mu.Unlock() }})
	if e == nil {
		h.t.Fatal(err)
	}
	h.nerr = err
	h.e = e
}

func (h *harness) types() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ts []string
	for _, e := range h.evts {
		ts = append(ts, e.Type)
	}
	return ts
}

func (h *harness) count(typ string) int {
	n := 0
	for _, t := range h.types() {
		if t == typ {
			n++
		}
	}
	return n
}

func (h *harness) wantCut(cut bool, when string) {
	h.t.Helper()
	if h.b.RelayCut() != cut {
		h.t.Fatalf("%s: relay cut = %v, want %v (status %+v, events %v)", when, h.b.RelayCut(), cut, h.e.Status(), h.types())
	}
	wantLED := board.Off
	if cut {
		wantLED = board.On
	}
	if got := h.b.LastPattern(board.LEDUplink); got != wantLED {
		h.t.Fatalf("%s: uplink LED %v, want %v", when, got, wantLED)
	}
}

func (h *harness) wantLED(name string, p board.Pattern, when string) {
	h.t.Helper()
	if got := h.b.LastPattern(name); got != p {
		h.t.Fatalf("%s: LED %s = %v, want %v", when, name, got, p)
	}
}

func isolating(makers ...string) Policy {
	p := DefaultPolicy()
	p.HoldTime = hold
	for _, m := range makers {
		p.Actions[m] = ActionIsolate
	}
	return p
}

func hik(mac string, c classify.Confidence) Device {
	return Device{MAC: mac, Verdict: classify.Verdict{Maker: "hikvision", Model: "DS-2CD2385G1-I", Confidence: c}}
}

const macA, macB = "44:19:b6:00:00:0a", "44:19:b6:00:00:0b"

// The cross product the issue asks for: action x confidence x allow-list x
// ack x auto-restore, each through the whole latch life cycle with an
// injected clock.
func TestEnforcerMatrix(t *testing.T) {
	type allowKind int
	const (
		noAllow allowKind = iota
		validAllow
		expiredAllow
		expiresMidway // valid when first seen, expires while present
	)
	for _, act := range []Action{ActionAlert, ActionIsolate} {
		for c := classify.Weak; c <= classify.Definitive; c++ {
			for _, al := range []allowKind{noAllow, validAllow, expiredAllow, expiresMidway} {
				for _, auto := range []bool{false, true} {
					for _, ack := range []bool{false, true} {
						name := fmt.Sprintf("%s/%s/allow%d/auto=%v/ack=%v", act, c, al, auto, ack)
						t.Run(name, func(t *testing.T) {
							p := DefaultPolicy()
							p.HoldTime = hold
							p.AutoRestore = auto
							p.Actions["hikvision"] = act
							switch al {
							case validAllow:
								p.AllowList = []Allow{{MAC: macA, Reason: "lab", Expires: t0.Add(24 * time.Hour)}}
							case expiredAllow:
								p.AllowList = []Allow{{MAC: macA, Reason: "lab", Expires: t0.Add(-time.Second)}}
							case expiresMidway:
								p.AllowList = []Allow{{MAC: macA, Reason: "lab", Expires: t0.Add(time.Minute)}}
							}
							h := newHarness(t, p, filepath.Join(t.TempDir(), "relay.json"))
							d := hik(macA, c)
							dec := h.e.Update(d, true)
							shouldCut := act == ActionIsolate && c >= classify.Strong && al != validAllow
							if al == expiresMidway {
								if dec.Action != ActionAllowed {
									t.Fatalf("decision before expiry = %+v", dec)
								}
								h.wantCut(false, "allowed before expiry")
								h.clk.Add(2 * time.Minute)
								// Nothing is re-reported: the allow entry lapses
								// with time alone.
								h.e.Tick()
								dec, _ = h.e.Decision(macA)
							}
							h.wantCut(shouldCut, "device present")
							switch {
							case dec.Action == ActionAllowed:
								h.wantLED(board.LEDAlert, board.Off, "allowed")
							case shouldCut:
								h.wantLED(board.LEDAlert, board.FastBlink, "isolating")
								if h.count(report.EvtRelayCut) != 1 {
									t.Fatalf("events %v", h.types())
								}
							default:
								h.wantLED(board.LEDAlert, board.SlowBlink, "alert only")
							}
							wantFlagged := 1
							if al == expiresMidway {
								wantFlagged = 2 // allowed, then the action once the entry lapsed
							}
							if h.count(report.EvtDeviceFlagged) != wantFlagged {
								t.Fatalf("device_flagged events %v", h.types())
							}

							// Still present long after: the cut holds whatever.
							h.clk.Add(2 * hold)
							h.e.Tick()
							h.wantCut(shouldCut, "present after 2x hold")

							h.e.Gone(macA)
							if ack {
								err := h.e.Acknowledge("test")
								if shouldCut != (err == nil) {
									t.Fatalf("Acknowledge = %v with cut=%v", err, shouldCut)
								}
								if !shouldCut && !errors.Is(err, ErrNotCut) {
									t.Fatalf("Acknowledge without cut = %v", err)
								}
							}
							h.clk.Add(hold - time.Second)
							h.e.Tick()
							h.wantCut(shouldCut, "gone for less than hold")

							h.clk.Add(time.Second)
							h.e.Tick()
							restored := shouldCut && (auto || ack)
							h.wantCut(shouldCut && !restored, "gone for hold")
							if restored && h.count(report.EvtRelayRestored) != 1 {
								t.Fatalf("events %v", h.types())
							}
							if shouldCut && !restored {
								// Unacknowledged, no auto-restore: only an ack
								// ends it, and it does so at once.
								h.clk.Add(24 * time.Hour)
								h.e.Tick()
								h.wantCut(true, "a day later, unacknowledged")
								h.wantLED(board.LEDAlert, board.FastBlink, "ack needed")
								if err := h.e.Acknowledge("button"); err != nil {
									t.Fatal(err)
								}
								h.wantCut(false, "acknowledged after hold")
							}
							if !shouldCut && h.b.RelaySwitches() != 0 {
								t.Fatalf("relay switched without cause: %+v", h.b.History())
							}
							h.wantLED(board.LEDAlert, board.Off, "all gone")
							// The persisted state agrees with the relay.
							st, err := loadState(h.path)
							if errors.Is(err, errNoState) && h.b.RelaySwitches() == 0 {
								return // never cut, nothing to persist
							}
							if err != nil || st.Cut {
								t.Fatalf("state after restore: %+v, %v", st, err)
							}
						})
					}
				}
			}
		}
	}
}

func TestSpoofedOUIOnlyNeverCuts(t *testing.T) {
	p := isolating(DefaultFlaggedMakers...)
	p.MinIsolate = classify.None // even a careless policy
	h := newHarness(t, p, "")
	// A MAC in Hikvision's OUI with only OUI evidence, as a spoofer makes.
	d := Device{MAC: "44:19:b6:de:ad:01", Verdict: classify.Verdict{Maker: "hikvision", Confidence: classify.Weak,
		Evidence: []classify.Evidence{{Probe: "oui", Detail: "OUI 44:19:B6 Hangzhou Hikvision", Maker: "hikvision", Strength: classify.Weak}}}}
	for range 5 {
		h.e.Update(d, true)
		h.clk.Add(time.Minute)
		h.e.Tick()
	}
	h.wantCut(false, "spoofed OUI")
	h.wantLED(board.LEDAlert, board.SlowBlink, "spoofed OUI")
	if h.b.RelaySwitches() != 0 {
		t.Fatal("relay switched on OUI evidence")
	}
}

func TestAckBeforeHoldRestoresWhenHoldEnds(t *testing.T) {
	h := newHarness(t, isolating("hikvision"), "")
	h.e.Update(hik(macA, classify.Definitive), true)
	h.wantCut(true, "cut")
	if err := h.e.Acknowledge("button"); err != nil {
		t.Fatal(err)
	}
	h.wantCut(true, "acked while present")
	h.wantLED(board.LEDAlert, board.FastBlink, "isolating device still present")
	h.clk.Add(time.Minute)
	h.e.Gone(macA)
	h.wantLED(board.LEDAlert, board.SlowBlink, "acked, waiting for hold")
	h.clk.Add(hold)
	h.e.Tick()
	h.wantCut(false, "hold over after ack")
	want := []string{report.EvtDeviceFlagged, report.EvtRelayCut, report.EvtAcknowledged, report.EvtRelayRestored}
	if got := h.types(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestReturnAfterAckWithdrawsAck(t *testing.T) {
	h := newHarness(t, isolating("hikvision"), "")
	h.e.Update(hik(macA, classify.Strong), true)
	h.e.Gone(macA)
	h.e.Acknowledge("button")
	h.clk.Add(hold / 2)
	h.e.Update(hik(macA, classify.Strong), true) // plugged back in
	h.clk.Add(time.Minute)
	h.e.Gone(macA)
	h.clk.Add(2 * hold)
	h.e.Tick()
	h.wantCut(true, "returned after ack")
	if s := h.e.Status(); s.Acked {
		t.Fatalf("ack survived the device's return: %+v", s)
	}
	h.e.Acknowledge("button")
	h.wantCut(false, "new ack")
}

func TestSecondDeviceKeepsLatch(t *testing.T) {
	p := isolating("hikvision", "dahua")
	p.AutoRestore = true
	h := newHarness(t, p, "")
	h.e.Update(hik(macA, classify.Strong), true)
	h.clk.Add(5 * time.Minute)
	h.e.Update(Device{MAC: macB, Verdict: classify.Verdict{Maker: "dahua", Confidence: classify.Definitive}}, true)
	h.e.Gone(macA)
	h.clk.Add(hold)
	h.e.Tick()
	h.wantCut(true, "second device present")
	h.e.Gone(macB)
	h.clk.Add(hold - time.Minute)
	h.e.Tick()
	h.wantCut(true, "second device inside hold")
	h.clk.Add(time.Minute)
	h.e.Tick()
	h.wantCut(false, "both gone for hold")
	if h.count(report.EvtRelayCut) != 1 {
		t.Fatalf("one incident should be one cut: %v", h.types())
	}
}

func TestPolicyAllowListReleasesLatchButNeedsAck(t *testing.T) {
	h := newHarness(t, isolating("hikvision"), "")
	h.e.Update(hik(macA, classify.Definitive), true)
	h.wantCut(true, "cut")
	p := isolating("hikvision")
	p.AllowList = []Allow{{MAC: macA, Reason: "approved by security office"}}
	if err := h.e.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	if d, _ := h.e.Decision(macA); d.Action != ActionAllowed {
		t.Fatalf("decision %+v", d)
	}
	h.wantCut(true, "allowed but not acknowledged")
	h.e.Acknowledge("cmd:42")
	h.wantCut(false, "allowed and acknowledged")
}

func TestPolicyToAlertDoesNotCutNewDevices(t *testing.T) {
	h := newHarness(t, DefaultPolicy(), "")
	h.e.Update(hik(macA, classify.Definitive), true)
	h.wantCut(false, "default policy alerts")
	if err := h.e.SetPolicy(isolating("hikvision")); err != nil {
		t.Fatal(err)
	}
	h.wantCut(true, "policy switched to isolate")
	if d, _ := h.e.Decision(macA); d.Action != ActionIsolate {
		t.Fatalf("decision %+v", d)
	}
}

// A cut survives SIGKILL: a fresh Enforcer on the same state file, with a
// fresh board (relay back to its wiring default), re-applies it at New.
func TestPersistedCutSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "relay.json")
	h := newHarness(t, isolating("hikvision"), path)
	h.e.Update(hik(macA, classify.Definitive), true)
	h.wantCut(true, "before crash")
	// SIGKILL: no Close, nothing flushed beyond what was persisted.
	h.b = boardtest.New(boardtest.WithClock(h.clk.Now))
	h.clk.Add(time.Hour)
	h.evts = nil
	h.start(isolating("hikvision"))
	if h.nerr != nil {
		t.Fatal(h.nerr)
	}
	h.wantCut(true, "after restart")
	if hist := h.b.History(); len(hist) == 0 || !hist[0].Relay || !hist[0].Cut {
		t.Fatalf("relay was not the first thing switched: %+v", hist)
	}
	h.wantLED(board.LEDAlert, board.FastBlink, "restored cut, unacknowledged")
	if s := h.e.Status(); !slices.Equal(s.Latched, []string{macA}) {
		t.Fatalf("latch after restart %+v", s)
	}
	// The camera never comes back; presence is unknown after the restart,
	// so the hold time counts from the restart.
	h.e.Acknowledge("button")
	h.clk.Add(hold - time.Second)
	h.e.Tick()
	h.wantCut(true, "hold restarts at restart")
	h.clk.Add(time.Second)
	h.e.Tick()
	h.wantCut(false, "hold over")

	// And a restored state survives a restart as restored.
	h.b = boardtest.New()
	h.start(isolating("hikvision"))
	h.wantCut(false, "restart after restore")
}

func TestAckSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.json")
	h := newHarness(t, isolating("hikvision"), path)
	h.e.Update(hik(macA, classify.Definitive), true)
	h.e.Acknowledge("button")
	h.b = boardtest.New()
	h.start(isolating("hikvision"))
	if s := h.e.Status(); !s.Acked || s.AckedBy != "button" || !s.Cut {
		t.Fatalf("status after restart %+v", s)
	}
	h.clk.Add(hold)
	h.e.Tick()
	h.wantCut(false, "acked cut restored after hold")
}

func TestCorruptStateKeepsCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.json")
	if err := os.WriteFile(path, []byte("{\"format\":1,\"cut\":fa"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, isolating("hikvision"), path)
	if h.nerr == nil {
		t.Fatal("corrupt state not reported")
	}
	h.wantCut(true, "corrupt state")
	if err := h.e.Acknowledge("button"); err != nil {
		t.Fatal(err)
	}
	h.wantCut(false, "acknowledged")
	if st, err := loadState(path); err != nil || st.Cut {
		t.Fatalf("state rewritten: %+v %v", st, err)
	}
}

func TestRelayFailureRetried(t *testing.T) {
	h := newHarness(t, isolating("hikvision"), "")
	h.b.FailRelay(errors.New("gpio: write failed"))
	h.e.Update(hik(macA, classify.Definitive), true)
	h.wantLED(board.LEDUplink, board.FastBlink, "relay failed")
	if s := h.e.Status(); !s.Cut || s.RelayFault == "" {
		t.Fatalf("status %+v", s)
	}
	h.b.FailRelay(nil)
	h.e.Tick()
	h.wantCut(true, "relay healed")
}

func TestLEDLegend(t *testing.T) {
	h := newHarness(t, isolating("hikvision"), "")
	h.wantLED(board.LEDPower, board.SlowBlink, "starting")
	h.e.SetHealth(HealthOK)
	h.wantLED(board.LEDPower, board.On, "healthy")
	h.e.SetHealth(HealthFault)
	h.wantLED(board.LEDPower, board.FastBlink, "fault")
	h.e.SetBroker(BrokerConnecting)
	h.wantLED(board.LEDBroker, board.SlowBlink, "connecting")
	h.e.SetBroker(BrokerConnected)
	h.wantLED(board.LEDBroker, board.On, "connected")
	h.e.Activity()
	h.wantLED(board.LEDActivity, board.On, "activity")
	h.clk.Add(activityWindow)
	h.e.Tick()
	h.wantLED(board.LEDActivity, board.Off, "activity over")
	h.wantLED(board.LEDAlert, board.Off, "nothing flagged")
	h.wantLED(board.LEDUplink, board.Off, "not cut")
}

func TestRunButton(t *testing.T) {
	h := newHarness(t, isolating("hikvision"), "")
	h.e.SetHealth(HealthOK)
	h.e.Update(hik(macA, classify.Definitive), true)
	h.e.Gone(macA)
	h.clk.Add(hold)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.e.Run(ctx) }()

	h.b.PressButton(3 * time.Second) // between tap and hold: ignored
	h.b.PressButton(6 * time.Second) // lamp test
	if !h.b.WaitFor(2*time.Second, func() bool { return h.b.LastPattern(board.LEDBroker) == board.On }) {
		t.Fatal("lamp test did not light the broker LED")
	}
	h.wantCut(true, "lamp test does not acknowledge")
	h.clk.Add(board.LampTestDuration)
	h.e.Tick()
	h.wantLED(board.LEDBroker, board.Off, "lamp test over")

	h.b.PressButton(200 * time.Millisecond)
	if !h.b.WaitFor(2*time.Second, func() bool { return !h.b.RelayCut() }) {
		t.Fatalf("tap did not acknowledge: %+v", h.e.Status())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h.e.LastTurn().IsZero() {
		t.Fatal("Run never ticked")
	}
}

func TestOnEventMayCallBack(t *testing.T) {
	b := boardtest.New()
	var e *Enforcer
	var got []string
	p := isolating("hikvision")
	e, err := New(Options{Board: b, Policy: &p, OnEvent: func(ev report.Event) {
		got = append(got, ev.Type)
		_ = e.Status() // would deadlock if called under the lock
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.Update(hik(macA, classify.Definitive), true)
	if len(got) != 2 {
		t.Fatalf("events %v", got)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without board")
	}
	bad := Policy{Actions: map[string]Action{"zte": "explode"}}
	if _, err := New(Options{Board: boardtest.New(), Policy: &bad}); err == nil {
		t.Error("New with invalid policy")
	}
}

func TestPruneForgetsOldDevices(t *testing.T) {
	h := newHarness(t, DefaultPolicy(), "")
	for i := range 100 {
		h.e.Update(Device{MAC: fmt.Sprintf("02:00:00:00:01:%02x", i)}, true)
		h.e.Gone(fmt.Sprintf("02:00:00:00:01:%02x", i))
	}
	h.clk.Add(forgetAfter + time.Second)
	h.e.Tick()
	h.e.mu.Lock()
	n := len(h.e.devices)
	h.e.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d gone devices kept", n)
	}
}

// A device whose maker is undetermined never isolates, even when every
// candidate is a maker the policy isolates; it lights the alert LED
// steadily and says so once with device_review; an allow-list entry settles
// it; a real isolating device still cuts next to it.
func TestReviewNeverActs(t *testing.T) {
	pol := isolating("hikvision", "dahua")
	h := newHarness(t, pol, "")
	review := Device{MAC: macA, Verdict: classify.Verdict{Confidence: classify.None,
		Candidates: []string{"dahua", "hikvision"}, Review: []string{"strong evidence for two makers"}}}
	if d := h.e.Update(review, true); d.Flagged || d.Action != ActionNone || !d.Review {
		t.Fatalf("decision %+v, want review without action", d)
	}
	h.wantCut(false, "review")
	h.wantLED(board.LEDAlert, board.On, "review only")
	h.e.Update(review, true)
	if n := h.count(report.EvtDeviceReview); n != 1 {
		t.Fatalf("%d device_review events, want 1 (%v)", n, h.types())
	}
	h.e.Update(hik(macB, classify.Definitive), true)
	h.wantCut(true, "isolating device next to a review")
	h.wantLED(board.LEDAlert, board.FastBlink, "isolating outranks review")

	pol.AllowList = []Allow{{MAC: macA, Reason: "checked on site: Axis label, Axis web UI"}}
	if d := Decide(pol, review, t0); d.Review || d.Flagged {
		t.Fatalf("allow-listed review: %+v", d)
	}
}
