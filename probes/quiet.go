package probes

import (
	"context"
	"sync"
	"time"
)

// Quiet is when a listening round is over: a discoverer asks the link and
// reads answers, and the answers stop long before any fixed window would.
// The round lasts at least Floor after the last request went out (how long
// a well-behaved device may take to answer by its protocol's own rules:
// WS-Discovery's APP_MAX_DELAY, SSDP's MX, mDNS's response delay) and
// Settle after the last answer (replies from many devices come in bursts
// a little apart), and never longer than Max from its start, whatever the
// link keeps sending.
type Quiet struct {
	Floor  time.Duration // after the last request
	Settle time.Duration // after the last answer
	Max    time.Duration // the whole round
}

// Round is one listening round under a Quiet rule. Its context ends when
// the round is over; Sending, Sent and Heard move that moment.
type Round struct {
	q      Quiet
	cancel context.CancelFunc
	mu     sync.Mutex
	until  time.Time // not over before this
	sends  int       // requests still being sent: not over while > 0
	timer  *time.Timer
	done   bool
}

// Start begins a round under ctx. The returned context ends when the
// round is over (or ctx ends); call Stop when finished with it. Until
// the first Sent or Heard the round lasts at least Floor.
func (q Quiet) Start(ctx context.Context) (context.Context, *Round) { return q.start(ctx, 0) }

func (q Quiet) start(ctx context.Context, sends int) (context.Context, *Round) {
	max := q.Max
	if max <= 0 {
		max = q.Floor + q.Settle
	}
	rctx, cancel := context.WithTimeout(ctx, max)
	r := &Round{q: q, cancel: cancel, until: time.Now().Add(q.Floor), sends: sends}
	r.mu.Lock() // check must not run before r.timer is set
	r.timer = time.AfterFunc(q.Floor, r.check)
	r.mu.Unlock()
	return rctx, r
}

// StartSending begins a round whose requests are already going out (as
// Start then Sending): it cannot end before SentWithin or Sent says they
// are done, however short Floor is.
func (q Quiet) StartSending(ctx context.Context) (context.Context, *Round) { return q.start(ctx, 1) }

// SentWithin is Sent with a floor chosen now rather than at Start: the
// wait for answers after the last request, from what was learnt while
// sending (a host's round trip).
func (r *Round) SentWithin(floor time.Duration) {
	r.mu.Lock()
	if r.sends > 0 {
		r.sends--
	}
	r.extend(floor)
	r.mu.Unlock()
}

// Sending says requests are going out: the round is not over until as
// many Sent calls have said they are done.
func (r *Round) Sending() {
	r.mu.Lock()
	r.sends++
	r.mu.Unlock()
}

// Sent says a request went out (after Sending: the sending is done); the
// round lasts at least Floor from now.
func (r *Round) Sent() {
	r.mu.Lock()
	if r.sends > 0 {
		r.sends--
	}
	r.extend(r.q.Floor)
	r.mu.Unlock()
}

// Heard says an answer arrived; the round lasts at least Settle from now.
func (r *Round) Heard() {
	r.mu.Lock()
	r.extend(r.q.Settle)
	r.mu.Unlock()
}

// Stop releases the round's timer and context.
func (r *Round) Stop() {
	r.mu.Lock()
	r.done = true
	r.timer.Stop()
	r.mu.Unlock()
	r.cancel()
}

func (r *Round) extend(d time.Duration) {
	if t := time.Now().Add(d); t.After(r.until) {
		r.until = t
	}
	if !r.done {
		r.timer.Reset(time.Until(r.until))
	}
}

// check ends the round when nothing is being sent and the last moment
// anything asked for has passed; otherwise it looks again then.
func (r *Round) check() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	if r.sends > 0 {
		return // Sent or SentWithin re-arms the timer
	}
	if left := time.Until(r.until); left > 0 {
		r.timer.Reset(left)
		return
	}
	r.done = true
	r.cancel()
}

type replyWaitKey struct{}

// WithReplyWait tells the unicast probers run under ctx how long to wait
// for a host's first answer after their last request: the scheduler sets
// it from the host's measured round trip, so asking a same-link camera a
// protocol it does not speak costs a fraction of the probe timeout. wait
// is asked when the last request has gone out, so a round trip measured
// meanwhile counts.
func WithReplyWait(ctx context.Context, wait func() time.Duration) context.Context {
	return context.WithValue(ctx, replyWaitKey{}, wait)
}

// ReplyWait is the wait WithReplyWait set, or def. It never exceeds def:
// a prober's own timeout stays the ceiling.
func ReplyWait(ctx context.Context, def time.Duration) time.Duration {
	if f, ok := ctx.Value(replyWaitKey{}).(func() time.Duration); ok {
		if d := f(); d > 0 && d < def {
			return d
		}
	}
	return def
}

type groupAskedKey struct{}

// WithGroupAsked tells a unicast discovery prober run under ctx that its
// host already heard this protocol's group (or broadcast) request in the
// latest discovery round: the prober then asks the host alone, not the
// group again, which every speaker of the protocol on the link would
// answer. The scheduler sets it (see app.coverage).
func WithGroupAsked(ctx context.Context) context.Context {
	return context.WithValue(ctx, groupAskedKey{}, true)
}

// GroupAsked reports whether WithGroupAsked marked ctx.
func GroupAsked(ctx context.Context) bool {
	v, _ := ctx.Value(groupAskedKey{}).(bool)
	return v
}
