package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camwarden/camwarden/probes"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Scheduler runs active probes: discoverers across each link, and probers
// against each host, with bounded concurrency overall and per host, a global
// rate cap on probe starts, and a timeout per probe.
type Scheduler struct {
	Probers     []probes.Prober
	Discoverers []probes.Discoverer
	Links       []probes.Link
	Sink        probes.Sink
	Concurrency int           // hosts probed at once
	PerHost     int           // probes at once against one host
	Timeout     time.Duration // per prober run
	Discovery   time.Duration // per discoverer run
	Limiter     *rate.Limiter // probe starts; nil = unlimited
	// Target returns what is known about a host when its turn comes, so
	// probers see facts (XAddrs, ports) learned since it was queued.
	Target func(mac string) (probes.Target, bool)
	// Allowed, when set, is asked before each probe runs, so a policy can
	// switch probes off (or everything, for passive-only) without a restart.
	Allowed func(probe string) bool
	// Again, when set, is asked Retry[n] after a host's n-th probing
	// whether to probe it once more: a camera's first frames (ARP, DHCP)
	// often arrive before its web, SADP or ONVIF services listen, and a
	// probe that raced them would otherwise leave it unidentified until the
	// next sweep. Bounded by len(Retry).
	Again func(mac string) bool
	Retry []time.Duration
	// Done, when set, is told each time a queued host's turn is over:
	// probed, or not (gone from the inventory, or no address), so the
	// inventory can record when a device was last asked and a survey
	// knows when every addressed device has been.
	Done func(mac string, probed bool)
	// Followup, when set, is asked after a round with what was known
	// before and after it, and names probers to run at once because of
	// what the round learned.
	Followup func(before, after probes.Target) []string
	// Interval, when set, is the time between periodic sweeps (0: none);
	// Run asks it again after every wait.
	Interval func() time.Duration
	// Spoke, when set, says whether a host has answered protocol probe
	// (an answer of it, not its own inquiry) since a time. With it, a
	// unicast ask that a sweep's round covers waits for the round and is
	// made only to hosts that did not answer it (see coverage); without
	// it, every round asks.
	Spoke func(mac, probe string, since time.Time) bool
	Log   *slog.Logger

	once      sync.Once
	rtts      rttTable
	cover     coverage
	preopened atomic.Bool  // OpenRounds ran for the next Sweep
	stage     atomic.Value // string: what Sweep is doing, for a progress line
	queue     chan string
	mu        sync.Mutex
	// pending maps a queued host to the probes its round will run: nil for
	// every prober, a set for a targeted round (EnqueueProbes).
	pending map[string]map[string]bool
	retries map[string]int
	busy    atomic.Int64
	probed  atomic.Uint64
}

func (s *Scheduler) init() {
	s.once.Do(func() {
		s.queue = make(chan string, 65536)
		s.pending = map[string]map[string]bool{}
		s.retries = map[string]int{}
		if s.Concurrency < 1 {
			s.Concurrency = 1
		}
		if s.PerHost < 1 {
			s.PerHost = 1
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Enqueue asks for mac to be probed by every prober; a host already
// waiting is not queued twice.
func (s *Scheduler) Enqueue(mac string) { s.enqueue(mac, nil) }

// EnqueueProbes asks for a targeted round: only the named probers run
// against mac (a camera that just announced a service is asked about that
// service, not everything again). A host already waiting for a full round
// stays so; targeted requests for a waiting host are merged.
func (s *Scheduler) EnqueueProbes(mac string, names []string) {
	if len(names) == 0 {
		return
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	s.enqueue(mac, set)
}

func (s *Scheduler) enqueue(mac string, only map[string]bool) {
	s.init()
	s.mu.Lock()
	if cur, waiting := s.pending[mac]; waiting {
		switch {
		case cur == nil: // a full round covers it
		case only == nil:
			s.pending[mac] = nil
		default:
			for n := range only {
				cur[n] = true
			}
		}
		s.mu.Unlock()
		return
	}
	s.pending[mac] = only
	s.mu.Unlock()
	select {
	case s.queue <- mac:
	default:
		s.mu.Lock()
		delete(s.pending, mac)
		s.mu.Unlock()
		s.Log.Warn("probe queue full; host will be probed at the next sweep", "mac", mac)
	}
}

// followUp runs, in the same turn, the probers that the round's own answers
// made worth running (a recorder is recognised by what SADP or ONVIF said).
func (s *Scheduler) followUp(ctx context.Context, mac string, before probes.Target) {
	if s.Followup == nil {
		return
	}
	after, ok := s.Target(mac)
	if !ok {
		return
	}
	if names := s.Followup(before, after); len(names) > 0 {
		only := map[string]bool{}
		for _, n := range names {
			only[n] = true
		}
		s.probeHost(ctx, after, only)
	}
}

// Idle reports whether no host is queued or being probed.
func (s *Scheduler) Idle() bool {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) == 0 && s.busy.Load() == 0
}

// Probed counts hosts whose probing finished.
func (s *Scheduler) Probed() uint64 { return s.probed.Load() }

// Sweep runs the ARP sweep first, so every later answer that carries only
// an IP can be tied to a MAC, then every other discoverer on every link at
// once, and returns when all are done (each bounded by Discovery).
func (s *Scheduler) Sweep(ctx context.Context) error {
	s.init()
	// Probers that ration logins per sweep (recorders) start a new one.
	for _, p := range s.Probers {
		if b, ok := p.(interface{ BeginSweep() }); ok {
			b.BeginSweep()
		}
	}
	if !s.preopened.Swap(false) {
		s.OpenRounds()
		s.preopened.Store(false)
	}
	var first, rest []probes.Discoverer
	for _, d := range s.Discoverers {
		if d.Name() == "arp" || withSweep[d.Name()] {
			first = append(first, d)
		} else {
			rest = append(rest, d)
		}
	}
	// The others start once the ARP sweep has asked every address (not
	// when its last late reply is in): by then the hosts that answer at
	// once are known, and an answer that carries only an IP waits in the
	// pipeline until its address resolves.
	s.stage.Store("sweeping")
	defer s.stage.Store("probing")
	var g errgroup.Group
	asked := make(chan struct{}, len(first)*len(s.Links))
	n := s.sweep(ctx, &g, first, func() { asked <- struct{}{} })
	for range n {
		select {
		case <-asked:
		case <-ctx.Done():
		}
	}
	s.stage.Store("discovery")
	s.sweep(ctx, &g, rest, nil)
	return g.Wait()
}

// Stage is what the scheduler is doing: "sweeping" (ARP), "discovery"
// (the other discoverers' rounds), or "probing".
func (s *Scheduler) Stage() string {
	if v, ok := s.stage.Load().(string); ok {
		return v
	}
	return "probing"
}

// withSweep names the discoverers that start with the ARP sweep rather
// than after it. SSDP and WS-Discovery make devices hold answers back (up
// to MX, 1 s; up to APP_MAX_DELAY, 500 ms), so most answers come after
// the sweep has resolved their senders anyway; starting them later would
// add that delay to every sweep. The vendor rounds (SADP, DHIP, DVRIP)
// stand in for each host's unicast ask of the same protocol (coverage):
// the sooner they end, the sooner the hosts that did not answer are asked
// and the sweep is over, and a Hikvision's SADP answer (definitive) does
// not wait for the ARP sweep to cover the subnet. An answer whose sender
// the sweep has not resolved yet waits in the pipeline until it has
// (HeldFor).
var withSweep = map[string]bool{"ssdp": true, "wsd": true, "sadp": true, "dhip": true, "dvrip": true}

func ifaceName(l probes.Link) string {
	if l.Iface == nil {
		return ""
	}
	return l.Iface.Name
}

// asker is a discoverer that can say when it has sent its last request
// (the ARP sweep); what it hears after that is late replies.
type asker interface {
	DiscoverThen(ctx context.Context, l probes.Link, emit probes.Sink, asked func()) error
}

// sweep starts ds on every link in g and returns how many of them are
// askers; asked, when set, is called once per started asker when it has
// sent its requests (or ended).
func (s *Scheduler) sweep(ctx context.Context, g *errgroup.Group, ds []probes.Discoverer, asked func()) int {
	n := 0
	for _, l := range s.Links {
		for _, d := range ds {
			covering := s.covering(d.Name())
			if !s.allowed(d.Name()) {
				if covering {
					s.roundEnded(d.Name(), false)
				}
				continue
			}
			_, isAsker := d.(asker)
			if isAsker {
				n++
			}
			g.Go(func() error {
				var once sync.Once
				done := func() {
					if asked != nil && isAsker {
						once.Do(asked)
					}
				}
				defer done()
				ran := false
				if covering {
					defer func() { s.roundEnded(d.Name(), ran) }()
				}
				if err := s.wait(ctx); err != nil {
					return nil
				}
				// Discovery bounds a listening round; each ends sooner once
				// answers stop (probes.Quiet). Not the ARP sweep: its length
				// is its send schedule (the subnet at the rate cap) plus its
				// own bounded wait, and cutting it at Discovery left the
				// last addresses of the subnet unasked whenever a loaded
				// host paced it slower than planned: devices silently
				// missing from a survey (8 of lab200's 200).
				dctx, cancel := ctx, context.CancelFunc(func() {})
				if _, ok := d.(asker); !ok {
					dctx, cancel = context.WithTimeout(ctx, s.Discovery)
				}
				defer cancel()
				began := time.Now()
				var err error
				if a, ok := d.(asker); ok {
					err = a.DiscoverThen(dctx, l, s.Sink, done)
				} else {
					err = d.Discover(dctx, l, s.Sink)
				}
				// A round ended by its own quiet or window sent its
				// request; one that failed may not have.
				ran = err == nil || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
				if l.Iface != nil {
					s.Log.Debug("discovery done", "probe", d.Name(), "iface", l.Iface.Name, "took", time.Since(began).Round(time.Millisecond))
				}
				_, isSweep := d.(asker)
				if err != nil && (isSweep && ctx.Err() == nil || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)) {
					s.Log.Warn("discovery failed", "probe", d.Name(), "iface", ifaceName(l), "err", err)
				} else if err != nil && isSweep {
					// A sweep cut short leaves addresses unasked: say so.
					s.Log.Warn("arp sweep stopped before asking every address", "iface", ifaceName(l), "err", err)
				}
				return nil
			})
		}
	}
	return n
}

// OpenRounds starts a sweep's bookkeeping: the round trips the ARP sweep
// measures (they also say who answered it) start afresh, and every
// covering round opens, so hosts probed from now on wait for it (see
// coverage). Sweep calls it; the daemon calls it first, before it queues
// the hosts it already knows, so that none of them is asked through the
// group in the moment before the start-up sweep begins.
func (s *Scheduler) OpenRounds() {
	s.init()
	s.rtts.reset()
	now := time.Now()
	for _, d := range s.Discoverers {
		if s.covering(d.Name()) {
			s.cover.start(d.Name(), len(s.Links), now)
		}
	}
	s.preopened.Store(true)
}

// covering says whether discoverer name's rounds stand in for the
// same-named unicast ask (see coverage).
func (s *Scheduler) covering(name string) bool {
	if s.Spoke == nil {
		return false
	}
	for _, p := range s.Probers {
		if c, ok := p.(interface{ CoveredBySweep() bool }); ok && p.Name() == name && c.CoveredBySweep() {
			return true
		}
	}
	return false
}

// roundEnded closes one link's round of name (ran: its request went
// out); after the last, the hosts whose ask waited for it are asked now,
// unless they answered it.
func (s *Scheduler) roundEnded(name string, ran bool) {
	hosts, began := s.cover.end(name, ran, time.Now())
	asked := 0
	for _, mac := range hosts {
		if !s.Spoke(mac, name, began) {
			s.EnqueueProbes(mac, []string{name})
			asked++
		}
	}
	if len(hosts) > 0 {
		s.Log.Debug("discovery round covered unicast asks", "probe", name, "waited", len(hosts), "answered", len(hosts)-asked)
	}
}

// skipAsk says whether t's unicast ask p is left to a sweep's round: it
// waits for the open round, or the host answered the latest one. When
// the ask goes ahead, heard says the host heard that round's request: it
// answered the same sweep's ARP request (its round trip is in the table,
// which each sweep starts afresh), so it was on the link.
func (s *Scheduler) skipAsk(p probes.Prober, t probes.Target) (skip, heard bool) {
	if !s.covering(p.Name()) {
		return false, false
	}
	mac := t.MAC.String()
	wait, began, _ := s.cover.decide(p.Name(), mac)
	switch {
	case wait:
		return true, false
	case began.IsZero():
		return false, false
	case s.Spoke(mac, p.Name(), began):
		return true, false
	}
	return false, s.rtts.get(t.IP) > 0
}

// DefaultRetry is the back-off between re-probes of a host that is still
// not identified: about 20 s in all, then the periodic sweep takes over.
// Each wait starts when a probing round ends, and a round already lasts up
// to the probe timeout (UDP probers wait for answers), so the first retry
// comes soon: a camera whose services were still starting during the first
// round is then isolated about a round and a half after its first frame.
var DefaultRetry = []time.Duration{500 * time.Millisecond, 2 * time.Second, 5 * time.Second, 15 * time.Second}

func (s *Scheduler) scheduleRetry(ctx context.Context, mac string) {
	if s.Again == nil {
		return
	}
	s.mu.Lock()
	n := s.retries[mac]
	if n >= len(s.Retry) {
		delete(s.retries, mac)
		s.mu.Unlock()
		return
	}
	s.retries[mac] = n + 1
	s.mu.Unlock()
	time.AfterFunc(s.Retry[n], func() {
		if ctx.Err() != nil {
			return
		}
		if s.Again(mac) {
			s.Enqueue(mac)
			return
		}
		s.mu.Lock()
		delete(s.retries, mac)
		s.mu.Unlock()
	})
}

func (s *Scheduler) allowed(name string) bool { return s.Allowed == nil || s.Allowed(name) }

func (s *Scheduler) wait(ctx context.Context) error {
	if s.Limiter == nil {
		return ctx.Err()
	}
	return s.Limiter.Wait(ctx)
}

// Run probes queued hosts with Concurrency workers and sweeps every
// Interval() (when set and positive; it is asked again after every wait, so
// a signed policy's new interval applies without a restart), until ctx
// ends.
func (s *Scheduler) Run(ctx context.Context) error {
	s.init()
	var wg sync.WaitGroup
	for range s.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx)
		}()
	}
	if s.Interval != nil {
		s.sweepEvery(ctx)
	}
	wg.Wait()
	return nil
}

// sweepEvery sweeps whenever Interval() has passed since the last sweep
// started, checking at least every intervalPoll so a change is noticed.
func (s *Scheduler) sweepEvery(ctx context.Context) {
	last := time.Now()
	t := time.NewTimer(intervalPoll)
	defer t.Stop()
	for {
		wait := intervalPoll
		if iv := s.Interval(); iv > 0 {
			wait = min(max(iv-time.Since(last), 0), intervalPoll)
			if wait == 0 {
				last = time.Now()
				s.Sweep(ctx)
				continue
			}
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// intervalPoll is how often Run re-reads Interval while waiting.
var intervalPoll = time.Second

// Queued counts hosts waiting for their turn.
func (s *Scheduler) Queued() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

func (s *Scheduler) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case mac := <-s.queue:
			s.busy.Add(1)
			s.mu.Lock()
			only := s.pending[mac]
			delete(s.pending, mac)
			s.mu.Unlock()
			t, ok := s.Target(mac)
			if ok {
				s.probeHost(ctx, t, only)
				s.followUp(ctx, mac, t)
				if only == nil {
					s.scheduleRetry(ctx, mac)
				}
			}
			if s.Done != nil {
				s.Done(mac, ok)
			}
			s.probed.Add(1)
			s.busy.Add(-1)
		}
	}
}

// ProbeHost runs every prober against t, PerHost at a time.
func (s *Scheduler) ProbeHost(ctx context.Context, t probes.Target) { s.probeHost(ctx, t, nil) }

// replyWaiter is a prober whose whole exchange is one datagram asked and
// one answered (a unicast discovery ask): it only waits, so it runs beside
// the connection-making probers rather than in one of the host's PerHost
// slots, and it waits for a first answer only as long as the host's
// round trip makes sense (ReplyWait), at most its own ceiling.
type replyWaiter interface {
	probes.Prober
	ReplyWaitCeiling() time.Duration
}

// probeHost runs the probers in only (every one when nil) against t.
func (s *Scheduler) probeHost(ctx context.Context, t probes.Target, only map[string]bool) {
	s.init()
	sem := make(chan struct{}, s.PerHost)
	var wg sync.WaitGroup
	// rtt is the host's round trip as the sweep or this round's first
	// answers measured it (0: not known yet).
	rtt := &roundRTT{sweep: func() time.Duration { return s.rtts.get(t.IP) }}
	for _, p := range s.Probers {
		if !s.allowed(p.Name()) || only != nil && !only[p.Name()] {
			continue
		}
		rw, waits := p.(replyWaiter)
		var heard bool
		if waits {
			var skip bool
			if skip, heard = s.skipAsk(p, t); skip {
				continue // before the rate cap: nothing is sent
			}
		}
		if a, ok := p.(interface{ Applies(probes.Target) bool }); ok && !a.Applies(t) {
			continue // it would send nothing: no share of the rate cap
		}
		if err := s.wait(ctx); err != nil {
			break
		}
		if !waits {
			sem <- struct{}{}
		}
		wg.Add(1)
		go func() {
			defer func() {
				if !waits {
					<-sem
				}
				wg.Done()
			}()
			timeout := s.Timeout
			if o, ok := p.(interface{ ProbeTimeout() time.Duration }); ok {
				timeout = o.ProbeTimeout() // a prober that needs a conversation, not one answer
			}
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if waits {
				pctx = probes.WithReplyWait(pctx, func() time.Duration { return ReplyWait(rtt.get(), rw.ReplyWaitCeiling()) })
				if heard {
					pctx = probes.WithGroupAsked(pctx)
				}
			}
			began := time.Now()
			sink := s.Sink
			if !waits {
				// A connection prober's first answer bounds the host's
				// round trip (connect, request, reply): later waits use it.
				sink = func(o probes.Observation) {
					rtt.note(time.Since(began))
					s.Sink(o)
				}
			}
			err := p.Probe(pctx, t, sink)
			s.Log.Debug("probe done", "probe", p.Name(), "ip", t.IP, "took", time.Since(began).Round(time.Millisecond), "err", err)
		}()
	}
	wg.Wait()
}
