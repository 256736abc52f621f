package mqtt

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/camwarden/camwarden/firmware/report"
)

// Pending is an event handed to the outbox whose commit may still be in
// flight. Until Wait returns nil the event is not durable: a caller that must
// not lose it (or must not act as if it were sent) waits before moving on.
//
// Enqueue + Wait exists because one goroutine calling Event back-to-back
// waits one fsync per event and so cannot batch with itself; a caller that
// enqueues a burst (500 devices after a PoE switch powers up) and waits once
// shares one fsync across the burst, and what it has been told is durable
// still is. A Pending belongs to one goroutine (Wait is not safe to call
// from several at once).
type Pending struct {
	typ  string
	seq  uint64
	done <-chan error
	err  error // set once known
	got  bool
}

// Wait blocks until the event is fsynced (nil) or failed. Calling it again
// returns the same answer. A ctx that ends first returns ctx's error and
// leaves the event in flight: it may still become durable.
func (p *Pending) Wait(ctx context.Context) error {
	if p.got {
		return p.err
	}
	select {
	case err := <-p.done:
		p.got = true
		if err != nil {
			p.err = fmt.Errorf("mqtt: queue event %s seq %d: %w", p.typ, p.seq, err)
		}
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("mqtt: queue event %s seq %d: %w", p.typ, p.seq, ctx.Err())
	}
}

// Seq is the sequence number the event was given (0 if it was refused).
func (p *Pending) Seq() uint64 { return p.seq }

func refused(err error) *Pending {
	ch := make(chan error, 1)
	ch <- err
	return &Pending{done: ch, got: true, err: err}
}

// Enqueue hands e to the outbox's writer and returns at once, without waiting
// for the fsync. Events enqueued by one goroutine are committed (and later
// published) in the order it enqueued them, after anything it enqueued or
// sent through Event before. Validation errors come back from Wait.
func (c *Client) Enqueue(e report.Event) *Pending {
	if !validTopicLevel(e.Type) {
		return refused(fmt.Errorf("mqtt: event type %q cannot be a topic level", e.Type))
	}
	if e.Time.IsZero() {
		e.Time = c.opts.Now()
	}
	if _, err := json.Marshal(e.Data); err != nil {
		return refused(fmt.Errorf("mqtt: event %s: data: %w", e.Type, err))
	}
	rec, done, err := c.ob.append(e, c.Session(), 0)
	if err != nil {
		return refused(fmt.Errorf("mqtt: queue event %s: %w", e.Type, err))
	}
	return &Pending{typ: e.Type, seq: rec.Seq, done: done}
}

// Events queues es durably in their order and returns when all are fsynced,
// usually in one commit. It returns the first error; events before the
// failing one may already be durable (and will be sent).
func (c *Client) Events(ctx context.Context, es []report.Event) error {
	ps := make([]*Pending, len(es))
	for i, e := range es {
		ps[i] = c.Enqueue(e)
	}
	var first error
	for _, p := range ps {
		if err := p.Wait(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}
