package app

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
)

// Classifier turns a device's MAC and facts into a verdict. The app swaps
// the signature set behind it when a policy brings new signatures.
type Classifier func(mac net.HardwareAddr, facts []probes.Fact) classify.Verdict

// Enforcer is the part of enforce.Enforcer the pipeline drives. Its policy
// is the one the pipeline decides with, so reports and the relay never
// disagree.
type Enforcer interface {
	Update(d enforce.Device, present bool) enforce.Decision
	Gone(mac string)
	Forget(mac string)
	Policy() enforce.Policy
}

// Pipeline merges observations into the inventory and, for every device
// that changed, classifies it, applies the policy and reports it. One
// goroutine (Run) does all of this in order, so a device's updates are never
// reordered; probes only ever block on a bounded channel.
type Pipeline struct {
	Inv      *inventory.Inventory
	Classify Classifier
	Enforcer Enforcer        // nil in a survey
	Reporter report.Reporter // nil in a survey
	// OnAddress is called when a device first has an IPv4 address (or its
	// address changes), whatever frame first showed it: that is when it can
	// be probed. A device first seen by IPv6 ND, MLD or LLDP gets it later.
	OnAddress func(inventory.Device)
	// OnAnnounce is called when a device that already has an address
	// announces a service unasked (WS-Discovery Hello, SADP or DHIP
	// chatter, an SSDP NOTIFY, an mDNS announcement, a DHCP REQUEST) with
	// something new: the probes that can ask that service now, rather than
	// at the next timed re-probe (announce.go).
	OnAnnounce func(d inventory.Device, probes []string)
	GoneAfter  time.Duration
	Now        func() time.Time
	Log        *slog.Logger

	policy   atomic.Pointer[enforce.Policy]
	gen      atomic.Uint64 // moves whenever a view in last is added, changed or removed
	in       chan probes.Observation
	dropped  atomic.Uint64
	lastTurn atomic.Int64 // when Run last turned (Unix ns), for the watchdog

	mu   sync.Mutex
	last map[string]report.Device // what was last reported per MAC
	seen map[string]bool          // present state last given to the enforcer

	// held keeps IP-only observations (a WS-Discovery or HTTP answer) that
	// arrived before the inventory learned the IP's MAC, so an answer racing
	// the ARP sweep is applied once the MAC is known instead of being lost.
	// Only Run's goroutine touches it.
	held []probes.Observation
	// claims are payload identities that named an address nobody held
	// yet (identity.go). Only Run's goroutine touches it.
	claims []claim
	// sightings is sweepPresence's buffer, reused every tick.
	sightings []inventory.Sighting
	// pending are events a report.Queuer accepted this turn and not yet
	// waited for: the pipeline waits once per burst (flush), not once per
	// event. Only Run's goroutine touches it.
	pending []pendingEvent
}

type pendingEvent struct {
	p   report.Pending
	typ string
	mac string
}

// maxPending bounds the events in flight between flushes, so a burst that
// never lets the queue empty still waits for its fsyncs now and then.
const maxPending = 256

// Gen moves whenever the set of views (Views) changes, so the state files
// are rebuilt only then, not from every device each second.
func (p *Pipeline) Gen() uint64 { return p.gen.Load() }

// MaxHeld bounds observations waiting for their IP to be resolved; HeldFor
// is how long one waits.
const (
	MaxHeld = 1024
	HeldFor = 30 * time.Second
)

// QueueSize bounds observations waiting for the pipeline; beyond it new
// observations are dropped and counted rather than blocking capture.
const QueueSize = 4096

func (p *Pipeline) init() {
	if p.in == nil {
		p.in = make(chan probes.Observation, QueueSize)
		p.last = map[string]report.Device{}
		p.seen = map[string]bool{}
		if p.Now == nil {
			p.Now = time.Now
		}
		if p.Log == nil {
			p.Log = slog.New(slog.DiscardHandler)
		}
		if p.policy.Load() == nil {
			d := enforce.DefaultPolicy()
			p.policy.Store(&d)
		}
	}
}

// NewPipeline returns a pipeline ready to receive observations.
func NewPipeline(p *Pipeline) *Pipeline {
	p.init()
	return p
}

// SetPolicy swaps the policy used to decide what is flagged when there is
// no enforcer (survey, analyze); with an enforcer, its policy rules.
func (p *Pipeline) SetPolicy(pol enforce.Policy) { p.policy.Store(&pol) }

// Policy returns the policy in force.
func (p *Pipeline) Policy() enforce.Policy {
	if p.Enforcer != nil {
		return p.Enforcer.Policy()
	}
	return *p.policy.Load()
}

// Sink is where probes and capture deliver observations.
func (p *Pipeline) Sink(o probes.Observation) {
	select {
	case p.in <- o:
	default:
		p.dropped.Add(1)
	}
}

// Dropped counts observations lost to a full queue.
func (p *Pipeline) Dropped() uint64 { return p.dropped.Load() }

// LastTurn is when Run last processed an observation or a tick (zero before
// it first did): the watchdog's proof the pipeline is not stuck.
func (p *Pipeline) LastTurn() time.Time {
	if n := p.lastTurn.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// View is the device as the outside world sees it: verdict plus decision.
func (p *Pipeline) View(d inventory.Device) report.Device {
	return p.view(d, p.Classify(d.HardwareAddr(), d.ProbeFacts()))
}

func (p *Pipeline) view(d inventory.Device, v classify.Verdict) report.Device {
	dec := enforce.Decide(p.Policy(), enforce.Device{MAC: d.MAC, Serial: v.Serial, Verdict: v}, p.Now())
	ev := make([]report.EvidenceItem, len(v.Evidence))
	for i, e := range v.Evidence {
		ev[i] = report.EvidenceItem{Probe: e.Probe, Detail: e.Detail, Maker: e.Maker, Brand: e.Brand,
			Strength: e.Strength.String(), Rule: e.Rule}
	}
	ip := ""
	if d.IP.IsValid() {
		ip = d.IP.String()
	}
	out := report.Device{
		MAC: d.MAC, IP: ip, Maker: v.Maker, Brand: v.Brand, Model: v.Model, Serial: v.Serial,
		Firmware: v.Firmware, Flagged: dec.Flagged, Confidence: v.Confidence.String(), Evidence: ev,
		VLAN: d.VLAN, Action: string(dec.Action), Conflicts: v.Conflicts, Components: v.Components, Notes: v.Notes,
		FirstSeen: d.FirstSeen, LastSeen: d.LastSeen, ProbedAt: d.ProbedAt, Status: statusOf(v, dec),
	}
	if dec.Review {
		out.Review, out.Candidates = v.Review, v.Candidates
	}
	behindView(&out, d, dec)
	return out
}

// keepOf is how hard the inventory should hold on to a device.
func keepOf(v report.Device) inventory.Keep {
	switch {
	case v.Action == string(enforce.ActionIsolate):
		return inventory.KeepFlagged
	case v.Flagged:
		return inventory.KeepLatched
	case v.Status == report.StatusClean || v.Status == report.StatusReview:
		return inventory.KeepIdentified
	}
	return inventory.KeepNone
}

// Evicted makes every per-device structure follow an inventory eviction
// (the inventory's OnEvict): the last reported view and presence, the
// enforcer's tracking, and the retained MQTT state of a device that was
// reported. Called on the pipeline's goroutine, from Merge.
func (p *Pipeline) Evicted(ctx context.Context, mac string) {
	p.mu.Lock()
	_, had := p.last[mac]
	delete(p.last, mac)
	delete(p.seen, mac)
	p.mu.Unlock()
	p.gen.Add(1)
	if p.Enforcer != nil {
		p.Enforcer.Forget(mac)
	}
	if had && p.Reporter != nil {
		if err := p.Reporter.Forget(ctx, mac); err != nil {
			p.Log.Debug("report forget of an evicted device", "mac", mac, "err", err)
		}
	}
}

// present says whether d counts as on the network at now: seen within
// GoneAfter, or, for a camera behind a recorder, while its recorder is (the
// recorder is read only on sweeps; its cameras record all the while).
func (p *Pipeline) present(d inventory.Device, now time.Time) bool {
	if nvrMAC, _, ok := probes.ParseChannelKey(d.MAC); ok {
		if rec, ok := p.Inv.Get(nvrMAC); ok {
			return now.Sub(rec.LastSeen) < p.GoneAfter
		}
	}
	return now.Sub(d.LastSeen) < p.GoneAfter
}

// statusOf is the one-word outcome of report.Device.Status.
func statusOf(v classify.Verdict, dec enforce.Decision) string {
	switch {
	case dec.Flagged:
		return report.StatusFlagged
	case dec.Review:
		return report.StatusReview
	case v.Maker != "" || v.Undetermined():
		// An allow-listed review was settled by a person: clean.
		return report.StatusClean
	}
	return report.StatusUnknown
}

// Run processes observations until ctx ends, and every tick re-checks which
// devices are gone or to be forgotten.
func (p *Pipeline) Run(ctx context.Context, tick time.Duration, forgetAfter time.Duration) error {
	p.init()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		p.lastTurn.Store(p.Now().UnixNano())
		select {
		case <-ctx.Done():
			return nil
		case o := <-p.in:
			p.handle(ctx, o)
			if len(p.in) == 0 || len(p.pending) >= maxPending {
				p.flush(ctx)
			}
		case <-t.C:
			p.sweepPresence(ctx, forgetAfter)
			p.flush(ctx)
		}
	}
}

// flush waits until every event queued since the last flush is durable
// (one fsync for the burst, usually) and logs the ones that failed.
func (p *Pipeline) flush(ctx context.Context) {
	for _, e := range p.pending {
		if err := e.p.Wait(ctx); err != nil {
			p.Log.Error("report event", "type", e.typ, "mac", e.mac, "err", err)
		}
	}
	clear(p.pending)
	p.pending = p.pending[:0]
}

// Drain processes whatever is queued now, for one-shot runs (survey, analyze).
func (p *Pipeline) Drain(ctx context.Context) {
	p.init()
	for {
		select {
		case o := <-p.in:
			p.handle(ctx, o)
		default:
			p.flush(ctx)
			return
		}
	}
}

// handle merges one observation from a probe or capture.
func (p *Pipeline) handle(ctx context.Context, o probes.Observation) {
	p.apply(ctx, withoutIdentity(o))
}

// apply merges o (which may carry the pipeline's own identity facts) and
// reports what changed.
func (p *Pipeline) apply(ctx context.Context, o probes.Observation) {
	ch, changed := p.Inv.Merge(o)
	if ch.Device.MAC == "" {
		if o.MAC == nil && o.IP.IsValid() && len(p.held) < MaxHeld {
			if o.Time.IsZero() {
				o.Time = p.Now()
			}
			p.held = append(p.held, o)
		}
		return
	}
	defer func() {
		if ch.IPChanged {
			p.release(ctx, ch.Device.IP)
		}
	}()
	if (ch.New || ch.IPChanged) && ch.Device.IP.IsValid() && p.OnAddress != nil {
		p.OnAddress(ch.Device)
	}
	if (ch.New || ch.IPChanged) && ch.Device.IP.IsValid() {
		// OnAddress queued a full round.
	} else if changed && p.OnAnnounce != nil && ch.Device.IP.IsValid() {
		if names := announced(o); len(names) > 0 {
			p.OnAnnounce(ch.Device, names)
		}
	}
	if o.Probe != "identity" {
		if ch.New || ch.IPChanged {
			p.recheck(ctx, ch.Device)
		}
		p.checkClaims(ctx, o, ch.Device)
	}
	p.mu.Lock()
	wasPresent := p.seen[ch.Device.MAC]
	p.mu.Unlock()
	if !changed && wasPresent {
		return // nothing new; presence is refreshed by LastSeen in the inventory
	}
	p.publish(ctx, ch.Device, ch.New, true)
}

// release re-applies held observations for ip, now that its MAC is known,
// and drops those that waited too long.
func (p *Pipeline) release(ctx context.Context, ip netip.Addr) {
	if len(p.held) == 0 {
		return
	}
	now := p.Now()
	var ready []probes.Observation
	kept := p.held[:0]
	for _, o := range p.held {
		switch {
		case o.IP == ip:
			ready = append(ready, o)
		case now.Sub(o.Time) < HeldFor:
			kept = append(kept, o)
		}
	}
	p.held = kept
	for _, o := range ready {
		p.apply(ctx, o)
	}
}

// Republish re-reports every device (after a policy or signature change).
func (p *Pipeline) Republish(ctx context.Context) {
	now := p.Now()
	for _, d := range p.Inv.All() {
		p.publish(ctx, d, false, p.present(d, now))
	}
}

func (p *Pipeline) publish(ctx context.Context, d inventory.Device, isNew, present bool) {
	v := p.Classify(d.HardwareAddr(), d.ProbeFacts())
	view := p.view(d, v)
	p.mu.Lock()
	prev, had := p.last[d.MAC]
	p.last[d.MAC] = view
	p.seen[d.MAC] = present
	p.mu.Unlock()
	p.gen.Add(1)
	if !had || prev.Status != view.Status || prev.Action != view.Action {
		// When full, the inventory lets unidentified one-frame MACs go
		// first and flagged or isolating devices last (a MAC flood must not
		// push out what the appliance exists to watch).
		p.Inv.SetKeep(d.MAC, keepOf(view))
	}

	// device_new goes out before anything the enforcer says about the
	// device, so consumers meet a device before its flag.
	if isNew && p.Reporter != nil {
		p.event(ctx, report.EvtDeviceNew, view)
	}
	if p.Enforcer != nil {
		// The enforcer reports device_flagged itself, with its reason.
		p.Enforcer.Update(enforce.Device{MAC: d.MAC, Serial: v.Serial, Verdict: v}, present)
	}
	if p.Reporter == nil || (had && sameView(prev, view)) {
		return
	}
	if q, ok := p.Reporter.(report.Queuer); ok {
		// No broker round trip per device: the next observation in the
		// queue may be a restricted camera waiting for its verdict.
		if err := q.QueueDevice(view); err != nil {
			p.Log.Warn("report device", "mac", d.MAC, "err", err)
		}
	} else if err := p.Reporter.Device(ctx, view); err != nil {
		p.Log.Warn("report device", "mac", d.MAC, "err", err)
	}
	if p.Enforcer == nil && view.Flagged && (!had || !prev.Flagged || prev.Action != view.Action) {
		p.event(ctx, report.EvtDeviceFlagged, view)
	}
	if p.Enforcer == nil && view.Status == report.StatusReview && (!had || prev.Status != report.StatusReview) {
		p.event(ctx, report.EvtDeviceReview, view)
	}
}

func (p *Pipeline) event(ctx context.Context, typ string, v report.Device) {
	e := report.Event{Type: typ, Time: p.Now(), MAC: v.MAC, Data: map[string]any{
		"ip": v.IP, "maker": v.Maker, "brand": v.Brand, "model": v.Model, "serial": v.Serial,
		"confidence": v.Confidence, "flagged": v.Flagged, "action": v.Action, "status": v.Status,
	}}
	if v.Status == report.StatusReview {
		e.Data["candidates"], e.Data["review"] = v.Candidates, v.Review
	}
	if q, ok := p.Reporter.(report.Queuer); ok {
		p.pending = append(p.pending, pendingEvent{p: q.QueueEvent(e), typ: typ, mac: v.MAC})
		return
	}
	if err := p.Reporter.Event(ctx, e); err != nil {
		p.Log.Error("report event", "type", typ, "mac", v.MAC, "err", err)
	}
}

func sameView(a, b report.Device) bool {
	return a.IP == b.IP && a.Maker == b.Maker && a.Brand == b.Brand && a.Model == b.Model && a.Serial == b.Serial &&
		a.Firmware == b.Firmware && a.Flagged == b.Flagged && a.Confidence == b.Confidence && a.Action == b.Action &&
		a.Status == b.Status && slices.Equal(a.Review, b.Review) && slices.Equal(a.Candidates, b.Candidates) &&
		slices.Equal(a.Conflicts, b.Conflicts) && slices.Equal(a.Components, b.Components) && slices.Equal(a.Notes, b.Notes) &&
		slices.Equal(a.Evidence, b.Evidence)
}

// sweepPresence tells the enforcer which devices went quiet and forgets
// devices unseen for forgetAfter.
func (p *Pipeline) sweepPresence(ctx context.Context, forgetAfter time.Duration) {
	now := p.Now()
	p.sightings = p.Inv.Sightings(p.sightings)
	for _, s := range p.sightings {
		present := now.Sub(s.LastSeen) < p.GoneAfter
		if _, _, ok := probes.ParseChannelKey(s.MAC); ok {
			present = p.present(inventory.Device{MAC: s.MAC, LastSeen: s.LastSeen}, now)
		}
		p.mu.Lock()
		was, known := p.seen[s.MAC]
		p.mu.Unlock()
		if known && was != present {
			if d, ok := p.Inv.Get(s.MAC); ok {
				p.publish(ctx, d, false, present)
			}
		}
	}
	if forgetAfter <= 0 {
		return
	}
	for _, mac := range p.Inv.Expire(now.Add(-forgetAfter)) {
		p.mu.Lock()
		v := p.last[mac]
		delete(p.last, mac)
		delete(p.seen, mac)
		p.mu.Unlock()
		p.gen.Add(1)
		if p.Enforcer != nil {
			p.Enforcer.Gone(mac)
		}
		if p.Reporter != nil {
			if err := p.Reporter.Forget(ctx, mac); err != nil {
				p.Log.Warn("report forget", "mac", mac, "err", err)
			}
			if v.MAC == "" {
				v.MAC = mac
			}
			p.event(ctx, report.EvtDeviceGone, v)
		}
	}
}
