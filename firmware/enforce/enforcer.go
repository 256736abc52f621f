package enforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/camwarden/camwarden/board"
	"github.com/camwarden/camwarden/firmware/report"
)

// Health is what the power LED shows.
type Health uint8

const (
	HealthStarting Health = iota // slow blink: starting or unconfigured
	HealthOK                     // on
	HealthFault                  // fast blink
)

// BrokerState is what the broker LED shows.
type BrokerState uint8

const (
	BrokerNotConfigured BrokerState = iota // off
	BrokerConnecting                       // slow blink
	BrokerConnected                        // on
)

// activityWindow is how long the activity LED stays lit after Activity.
const activityWindow = 2 * time.Second

// forgetAfter is the least time a gone, unlatched device is remembered; it
// keeps a flapping camera's decision (and its device_flagged event) stable.
const forgetAfter = time.Hour

// ErrNotCut is returned by Acknowledge when the uplink is not cut.
var ErrNotCut = errors.New("enforce: nothing to acknowledge: uplink not cut")

// Options configures New. Board is required.
type Options struct {
	Board board.Board
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StateFile persists the relay latch; "" keeps it in memory only (for
	// survey mode and tests that do not restart).
	StateFile string
	Log       *slog.Logger
	// OnEvent receives events in order, outside the Enforcer's lock; it may
	// call back into the Enforcer. It should not block for long.
	OnEvent func(report.Event)
	// Policy is the initial policy; nil means DefaultPolicy().
	Policy *Policy
	// Tick is how often Run re-evaluates hold times; 0 means one second.
	Tick time.Duration
}

type tracked struct {
	dev       Device
	dec       Decision
	present   bool
	goneSince time.Time
}

type latch struct {
	present   bool
	goneSince time.Time
}

// Enforcer applies a Policy to the devices it is told about and drives the
// board. It is safe for concurrent use.
type Enforcer struct {
	b       board.Board
	now     func() time.Time
	path    string
	log     *slog.Logger
	onEvent func(report.Event)
	tick    time.Duration

	emitMu sync.Mutex // serialises OnEvent calls so events keep their order

	mu         sync.Mutex
	policy     Policy
	devices    map[string]*tracked
	st         persisted // relay latch; st.Latched is rebuilt from latched on save
	latched    map[string]*latch
	relayErr   error // last relay failure, nil when the relay matches st.Cut
	lampUntil  time.Time
	activityAt time.Time
	health     Health
	broker     BrokerState
	leds       map[string]board.Pattern // last pattern written per LED
	lastTurn   time.Time
	queue      []report.Event
}

// New builds an Enforcer and, before returning, restores the persisted relay
// state: a cut that was in force when the appliance died (SIGKILL, power cut)
// is re-applied to the relay before anything else can run. A state file that
// cannot be read is treated as a cut, because the safe reading of "we do not
// know" is "keep the camera VLAN isolated until someone acknowledges"; the
// error is returned alongside the working Enforcer so the caller can report
// it.
func New(o Options) (*Enforcer, error) {
	if o.Board == nil {
		return nil, errors.New("enforce: Options.Board is nil")
	}
	e := &Enforcer{
		b:       o.Board,
		now:     o.Now,
		path:    o.StateFile,
		log:     o.Log,
		onEvent: o.OnEvent,
		tick:    o.Tick,
		devices: map[string]*tracked{},
		latched: map[string]*latch{},
		leds:    map[string]board.Pattern{},
		policy:  DefaultPolicy(),
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.tick <= 0 {
		e.tick = time.Second
	}
	if o.Policy != nil {
		if err := o.Policy.Validate(); err != nil {
			return nil, err
		}
		e.policy = clonePolicy(*o.Policy)
	}
	rerr := e.restore()
	e.mu.Lock()
	e.evaluate(e.now())
	e.mu.Unlock()
	e.flush()
	return e, rerr
}

func (e *Enforcer) restore() error {
	if e.path == "" {
		return nil
	}
	now := e.now()
	p, err := loadState(e.path)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case errors.Is(err, errNoState):
		// First boot: leave the relay as wiring and boot left it until
		// evaluate decides; an explicit restore keeps the board consistent.
		e.applyRelay(false)
		return nil
	case err != nil:
		e.log.Error("relay state unreadable, keeping the uplink cut until acknowledged", "err", err)
		e.st = persisted{Cut: true, Since: now, Reason: "state file unreadable: " + err.Error()}
		e.applyRelay(true)
		return err
	}
	e.st = p
	if p.Cut {
		for _, mac := range p.Latched {
			// Nobody knows whether the device was there while we were
			// down: the hold time starts again from now.
			e.latched[mac] = &latch{goneSince: now}
		}
		e.log.Warn("re-applying persisted uplink cut", "since", p.Since, "latched", p.Latched,
			"acked", !p.AckedAt.IsZero())
	}
	e.applyRelay(p.Cut)
	return nil
}

// SetPolicy replaces the policy and re-decides every known device at once.
func (e *Enforcer) SetPolicy(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p = clonePolicy(p)
	e.mu.Lock()
	e.policy = p
	now := e.now()
	for _, t := range e.devices {
		e.redecide(t, now)
	}
	e.evaluate(now)
	e.mu.Unlock()
	e.flush()
	return nil
}

// Policy returns the policy in force.
func (e *Enforcer) Policy() Policy {
	e.mu.Lock()
	defer e.mu.Unlock()
	return clonePolicy(e.policy)
}

// Update records what is known about a device and whether it is present
// now, re-decides it and re-evaluates the relay. It returns the decision.
func (e *Enforcer) Update(d Device, present bool) Decision {
	mac := normMAC(d.MAC)
	if mac == "" {
		mac = d.MAC
	}
	d.MAC = mac
	e.mu.Lock()
	now := e.now()
	t := e.devices[mac]
	if t == nil {
		t = &tracked{}
		e.devices[mac] = t
	}
	t.dev = d
	e.setPresent(t, mac, present, now)
	e.redecide(t, now)
	e.evaluate(now)
	dec := t.dec
	e.mu.Unlock()
	e.flush()
	return dec
}

// Gone records that a device has left (inventory timeout, link down).
func (e *Enforcer) Gone(mac string) {
	if m := normMAC(mac); m != "" {
		mac = m
	}
	e.mu.Lock()
	now := e.now()
	if t := e.devices[mac]; t != nil {
		e.setPresent(t, mac, false, now)
	} else if l := e.latched[mac]; l != nil && l.present {
		l.present, l.goneSince = false, now
	}
	e.evaluate(now)
	e.mu.Unlock()
	e.flush()
}

func (e *Enforcer) setPresent(t *tracked, mac string, present bool, now time.Time) {
	if t.present && !present {
		t.goneSince = now
	}
	t.present = present
	if l := e.latched[mac]; l != nil {
		if present && !l.present && e.st.Cut && !e.st.AckedAt.IsZero() {
			// An isolating device that comes back after the cut was
			// acknowledged is a new incident: the old ack no longer covers it.
			e.log.Warn("isolating device returned after acknowledgement; acknowledgement withdrawn", "mac", mac)
			e.st.AckedAt, e.st.AckedBy = time.Time{}, ""
			e.save()
		}
		if l.present && !present {
			l.goneSince = now
		}
		l.present = present
	}
}

func (e *Enforcer) redecide(t *tracked, now time.Time) {
	old := t.dec
	t.dec = Decide(e.policy, t.dev, now)
	if t.dec.Flagged && t.present && (old.Action != t.dec.Action || !old.Flagged) {
		v := t.dev.Verdict
		e.emit(report.Event{Type: report.EvtDeviceFlagged, Time: now, MAC: t.dev.MAC, Data: map[string]any{
			"maker": v.Maker, "brand": v.Brand, "model": v.Model, "confidence": v.Confidence.String(),
			"action": string(t.dec.Action), "reason": t.dec.Reason, "target": t.dec.Target,
			"policy_version": e.policy.Version,
		}})
		e.log.Warn("device flagged", "mac", t.dev.MAC, "action", t.dec.Action, "reason", t.dec.Reason)
	}
	if t.dec.Review && t.present && !old.Review {
		v := t.dev.Verdict
		e.emit(report.Event{Type: report.EvtDeviceReview, Time: now, MAC: t.dev.MAC, Data: map[string]any{
			"candidates": v.Candidates, "review": v.Review, "reason": t.dec.Reason,
			"policy_version": e.policy.Version,
		}})
		e.log.Warn("device needs review", "mac", t.dev.MAC, "candidates", v.Candidates)
	}
}

// Acknowledge records that someone has seen the cut (source names who:
// "button", "cmd:<id>"). If every isolating device has been gone for the
// hold time, the uplink is restored at once; otherwise when that happens.
func (e *Enforcer) Acknowledge(source string) error {
	e.mu.Lock()
	if !e.st.Cut {
		e.mu.Unlock()
		return ErrNotCut
	}
	now := e.now()
	if e.st.AckedAt.IsZero() {
		e.st.AckedAt, e.st.AckedBy = now, source
		e.save()
		e.emit(report.Event{Type: report.EvtAcknowledged, Time: now, Data: map[string]any{
			"source": source, "cut_since": e.st.Since, "waiting_for": e.waitingFor(now),
		}})
		e.log.Info("uplink cut acknowledged", "source", source)
	}
	e.evaluate(now)
	e.mu.Unlock()
	e.flush()
	return nil
}

// HandlePress acts on one button press: a tap acknowledges, a long hold
// runs the lamp test, anything else is ignored.
func (e *Enforcer) HandlePress(p board.Press) {
	switch board.GestureOf(p) {
	case board.GestureAck:
		if err := e.Acknowledge("button"); err != nil {
			e.log.Info("button press: nothing to acknowledge")
		}
	case board.GestureLampTest:
		e.mu.Lock()
		now := e.now()
		e.lampUntil = now.Add(board.LampTestDuration)
		e.applyLEDs(now)
		e.mu.Unlock()
		e.log.Info("lamp test")
	default:
		e.log.Info("button press ignored", "held", p.Held)
	}
}

// SetHealth sets what the power LED shows.
func (e *Enforcer) SetHealth(h Health) {
	e.mu.Lock()
	e.health = h
	e.applyLEDs(e.now())
	e.mu.Unlock()
}

// SetBroker sets what the broker LED shows.
func (e *Enforcer) SetBroker(s BrokerState) {
	e.mu.Lock()
	e.broker = s
	e.applyLEDs(e.now())
	e.mu.Unlock()
}

// Activity lights the activity LED for a moment (capture or probing).
func (e *Enforcer) Activity() {
	e.mu.Lock()
	now := e.now()
	e.activityAt = now
	e.applyLEDs(now)
	e.mu.Unlock()
}

// Tick re-decides devices (allow-list expiry), re-evaluates hold times, retries a failed relay and refreshes LEDs.
// Run calls it on its ticker; tests with an injected clock call it directly.
func (e *Enforcer) Tick() {
	e.mu.Lock()
	now := e.now()
	e.lastTurn = now
	e.prune(now)
	// Allow-list entries expire with time alone, so decisions are
	// re-made on every turn, not only when a device is re-reported.
	for _, t := range e.devices {
		e.redecide(t, now)
	}
	e.evaluate(now)
	e.mu.Unlock()
	e.flush()
}

// LastTurn is when Tick last ran: the watchdog's proof that the
// enforcement loop is turning.
func (e *Enforcer) LastTurn() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastTurn
}

// Run ticks and handles button presses until ctx ends.
func (e *Enforcer) Run(ctx context.Context) error {
	t := time.NewTicker(e.tick)
	defer t.Stop()
	var presses <-chan board.Press
	if btn := e.b.Button(); btn != nil {
		presses = btn.Presses(ctx)
	}
	e.Tick()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			e.Tick()
		case p, ok := <-presses:
			if !ok {
				presses = nil
				continue
			}
			e.HandlePress(p)
		}
	}
}

// Status is the Enforcer's state for status reports.
type Status struct {
	Cut        bool      `json:"cut"`
	CutSince   time.Time `json:"cut_since,omitzero"`
	Acked      bool      `json:"acked"`
	AckedBy    string    `json:"acked_by,omitempty"`
	Latched    []string  `json:"latched,omitempty"`
	WaitingFor []string  `json:"waiting_for,omitempty"` // latched devices present or inside the hold time
	RelayFault string    `json:"relay_fault,omitempty"`
	Flagged    int       `json:"flagged"`   // present flagged devices (any action)
	Isolating  int       `json:"isolating"` // present devices whose action is isolate
	Policy     uint64    `json:"policy_version"`
}

// Status reports the latch and counts.
func (e *Enforcer) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	s := Status{Cut: e.st.Cut, CutSince: e.st.Since, Acked: !e.st.AckedAt.IsZero(), AckedBy: e.st.AckedBy,
		Latched: slices.Sorted(maps.Keys(e.latched)), WaitingFor: e.waitingFor(now), Policy: e.policy.Version}
	if e.relayErr != nil {
		s.RelayFault = e.relayErr.Error()
	}
	for _, t := range e.devices {
		if t.present && t.dec.Flagged && t.dec.Action != ActionAllowed {
			s.Flagged++
			if t.dec.Action == ActionIsolate {
				s.Isolating++
			}
		}
	}
	return s
}

// Decision returns the current decision for a device.
func (e *Enforcer) Decision(mac string) (Decision, bool) {
	if m := normMAC(mac); m != "" {
		mac = m
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.devices[mac]
	if !ok {
		return Decision{}, false
	}
	return t.dec, true
}

// evaluate is the latch. Called with e.mu held.
func (e *Enforcer) evaluate(now time.Time) {
	want := false
	for mac, t := range e.devices {
		if !t.present || t.dec.Action != ActionIsolate {
			continue
		}
		want = true
		if e.st.Cut {
			if _, ok := e.latched[mac]; !ok {
				e.latched[mac] = &latch{present: true}
				if !e.st.AckedAt.IsZero() {
					e.log.Warn("new isolating device after acknowledgement; acknowledgement withdrawn", "mac", mac)
					e.st.AckedAt, e.st.AckedBy = time.Time{}, ""
				}
				e.save()
			}
		}
	}
	// A latched device the current policy no longer isolates (allow-listed,
	// action changed) stops holding the cut. One not seen since a restart
	// keeps holding it: we cannot re-decide what we have not seen.
	for mac := range e.latched {
		if t, ok := e.devices[mac]; ok && t.dec.Action != ActionIsolate {
			delete(e.latched, mac)
			e.save()
		}
	}

	switch {
	case want && !e.st.Cut:
		var macs, reasons []string
		for mac, t := range e.devices {
			if t.present && t.dec.Action == ActionIsolate {
				macs = append(macs, mac)
				reasons = append(reasons, mac+": "+t.dec.Reason)
				e.latched[mac] = &latch{present: true}
			}
		}
		slices.Sort(macs)
		slices.Sort(reasons)
		e.st = persisted{Cut: true, Since: now, Reason: fmt.Sprint(reasons), PolicyVersion: e.policy.Version}
		// Persist before switching: if we die between the two, the restart
		// re-applies the cut instead of forgetting it.
		e.save()
		e.applyRelay(true)
		e.emit(report.Event{Type: report.EvtRelayCut, Time: now, Data: map[string]any{
			"macs": macs, "reasons": reasons, "policy_version": e.policy.Version, "relay_ok": e.relayErr == nil,
		}})
		e.log.Warn("uplink cut", "macs", macs)
	case e.st.Cut && !want && e.restorable(now):
		by := "auto"
		if !e.st.AckedAt.IsZero() {
			by = "ack:" + e.st.AckedBy
		}
		since := e.st.Since
		// Switch before persisting: dying in between re-cuts at restart,
		// which is the safe side.
		e.applyRelay(false)
		if err := e.relayErr; err != nil {
			// Keep the latch and the cut; the next tick retries the
			// restore. The fault stays visible on the uplink LED.
			e.applyRelay(true)
			e.relayErr = err
			break
		}
		clear(e.latched)
		e.st = persisted{PolicyVersion: e.policy.Version}
		e.save()
		e.emit(report.Event{Type: report.EvtRelayRestored, Time: now, Data: map[string]any{
			"by": by, "cut_since": since, "cut_for": now.Sub(since).String(), "policy_version": e.policy.Version,
		}})
		e.log.Info("uplink restored", "by", by)
	case e.relayErr != nil || e.b.Relay() != nil && e.b.Relay().IsCut() != e.st.Cut:
		// The relay failed earlier or something else switched it: put it
		// back where the latch says.
		e.applyRelay(e.st.Cut)
	}
	e.applyLEDs(now)
}

// restorable: every latched device gone for the hold time, and acknowledged
// unless the policy restores on its own.
func (e *Enforcer) restorable(now time.Time) bool {
	if len(e.waitingFor(now)) > 0 {
		return false
	}
	return e.policy.AutoRestore || !e.st.AckedAt.IsZero()
}

func (e *Enforcer) waitingFor(now time.Time) []string {
	var w []string
	for mac, l := range e.latched {
		if l.present || now.Sub(l.goneSince) < e.policy.HoldTime {
			w = append(w, mac)
		}
	}
	slices.Sort(w)
	return w
}

func (e *Enforcer) applyRelay(cut bool) {
	r := e.b.Relay()
	if r == nil {
		e.relayErr = errors.New("board has no relay")
		if !cut {
			e.relayErr = nil
		}
		return
	}
	if err := r.Cut(cut); err != nil {
		if e.relayErr == nil || e.relayErr.Error() != err.Error() {
			e.log.Error("relay switch failed", "cut", cut, "err", err)
		}
		e.relayErr = err
		return
	}
	if e.relayErr != nil {
		e.log.Info("relay switched after earlier failure", "cut", cut)
	}
	e.relayErr = nil
}

func (e *Enforcer) save() {
	if e.path == "" {
		return
	}
	p := e.st
	p.Latched = slices.Sorted(maps.Keys(e.latched))
	p.Saved = e.now()
	if err := writeState(e.path, p); err != nil {
		// The relay still does the right thing now; only a restart would
		// lose the latch, so this is loud but not fatal.
		e.log.Error("persist relay state", "err", err)
	}
}

// prune forgets devices long gone that no longer matter to the latch, so
// the map stays bounded by what the inventory keeps.
func (e *Enforcer) prune(now time.Time) {
	keep := max(e.policy.HoldTime, forgetAfter)
	for mac, t := range e.devices {
		if _, latched := e.latched[mac]; !t.present && !latched && now.Sub(t.goneSince) > keep {
			delete(e.devices, mac)
		}
	}
}

// Forget drops a device entirely (inventory eviction). A latched device
// keeps holding the cut as if gone from now.
func (e *Enforcer) Forget(mac string) {
	if m := normMAC(mac); m != "" {
		mac = m
	}
	e.mu.Lock()
	now := e.now()
	if t := e.devices[mac]; t != nil {
		e.setPresent(t, mac, false, now)
		delete(e.devices, mac)
	}
	e.evaluate(now)
	e.mu.Unlock()
	e.flush()
}

// patterns computes the LED legend of board/LEGEND.md.
func (e *Enforcer) patterns(now time.Time) map[string]board.Pattern {
	p := map[string]board.Pattern{}
	switch e.health {
	case HealthOK:
		p[board.LEDPower] = board.On
	case HealthFault:
		p[board.LEDPower] = board.FastBlink
	default:
		p[board.LEDPower] = board.SlowBlink
	}
	p[board.LEDActivity] = board.Off
	if !e.activityAt.IsZero() && now.Sub(e.activityAt) < activityWindow {
		p[board.LEDActivity] = board.On
	}
	isolate, alert, review := false, false, false
	for _, t := range e.devices {
		if !t.present {
			continue
		}
		switch t.dec.Action {
		case ActionIsolate:
			isolate = true
		case ActionAlert:
			alert = true
		}
		review = review || t.dec.Review
	}
	switch {
	case isolate || e.st.Cut && e.st.AckedAt.IsZero():
		p[board.LEDAlert] = board.FastBlink
	case alert || e.st.Cut:
		p[board.LEDAlert] = board.SlowBlink
	case review:
		p[board.LEDAlert] = board.On
	default:
		p[board.LEDAlert] = board.Off
	}
	switch {
	case e.relayErr != nil:
		p[board.LEDUplink] = board.FastBlink
	case e.st.Cut:
		p[board.LEDUplink] = board.On
	default:
		p[board.LEDUplink] = board.Off
	}
	switch e.broker {
	case BrokerConnected:
		p[board.LEDBroker] = board.On
	case BrokerConnecting:
		p[board.LEDBroker] = board.SlowBlink
	default:
		p[board.LEDBroker] = board.Off
	}
	if now.Before(e.lampUntil) {
		for k := range p {
			p[k] = board.On
		}
	}
	return p
}

func (e *Enforcer) applyLEDs(now time.Time) {
	pats := e.patterns(now)
	for _, name := range board.LEDNames {
		want := pats[name]
		if cur, ok := e.leds[name]; ok && cur == want {
			continue
		}
		if err := e.b.LED(name).Set(want); err != nil {
			e.log.Error("set LED", "led", name, "pattern", want, "err", err)
			delete(e.leds, name) // retry on the next evaluation
			continue
		}
		e.leds[name] = want
	}
}

// emit queues an event; flush delivers. Called with e.mu held.
func (e *Enforcer) emit(ev report.Event) {
	if e.onEvent != nil {
		e.queue = append(e.queue, ev)
	}
}

// flush delivers queued events in order without holding e.mu, so OnEvent
// may call back into the Enforcer.
func (e *Enforcer) flush() {
	e.emitMu.Lock()
	defer e.emitMu.Unlock()
	for {
		e.mu.Lock()
		if len(e.queue) == 0 {
			e.mu.Unlock()
			return
		}
		ev := e.queue[0]
		e.queue = e.queue[1:]
		e.mu.Unlock()
		e.onEvent(ev)
	}
}

func clonePolicy(p Policy) Policy {
	p.FlaggedMakers = slices.Clone(p.FlaggedMakers)
	p.FlaggedComponents = slices.Clone(p.FlaggedComponents)
	p.AllowList = slices.Clone(p.AllowList)
	p.Actions = maps.Clone(p.Actions)
	return p
}
