package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// IngestOptions configure Ingest.
type IngestOptions struct {
	// Client carries the broker URL, credentials, TLS and the client id.
	// The id must stay the same across restarts: the broker keeps the
	// session (subscriptions and unacknowledged messages) under it. Ingest
	// sets the session, acknowledgement and handler options itself.
	Client *paho.ClientOptions
	// Group is the shared-subscription group; processes in one group
	// split the fleet's messages. "" subscribes plainly (one process).
	Group string
	// BatchMax caps the messages written in one transaction (default 500);
	// Linger is how long a batch waits to fill (default 5ms).
	BatchMax int
	Linger   time.Duration
	Logger   *slog.Logger
	// Committed, when set, is called with each batch after its commit and
	// before its acknowledgement (measurements, tests).
	Committed func([]Message)
}

type refusedError struct{ filter string }

func (e *refusedError) Error() string {
	return fmt.Sprintf("subscription %s refused by the broker (ACL?)", e.filter)
}

// IngestStats count what an ingest process did.
type IngestStats struct {
	Received, Stored, Rejected, Skipped, Retries atomic.Uint64
}

type inItem struct {
	msg paho.Message
	at  time.Time
}

// Ingest subscribes (QoS 1, persistent session, manual acknowledgement) and
// writes every message to the store, acknowledging it to the broker only
// after the transaction that holds it has committed. Killed at any moment,
// the process loses nothing: what was not acknowledged is delivered again,
// and what is delivered twice lands on its existing key. It returns when
// ctx ends, after committing and acknowledging the batch in hand.
func Ingest(ctx context.Context, store *Store, o IngestOptions, stats *IngestStats) (result error) {
	if o.Client == nil {
		return errors.New("ingest: no client options")
	}
	if o.Group != "" && !ValidGroup(o.Group) {
		return fmt.Errorf("ingest: shared-subscription group %q: no /, + or #, at most 64 bytes", o.Group)
	}
	if o.BatchMax <= 0 {
		o.BatchMax = 500
	}
	if o.Linger <= 0 {
		o.Linger = 5 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if stats == nil {
		stats = &IngestStats{}
	}
	// Nothing is acknowledged before it is stored, so the inbox only
	// smooths batching; when it is full the handler blocks, which stops
	// paho reading from the broker (back-pressure, not loss).
	inbox := make(chan inItem, 4096)
	first := make(chan error, 1)
	subscribed := atomic.Bool{}
	co := *o.Client
	co.SetCleanSession(false).SetAutoAckDisabled(true).SetOrderMatters(true).SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(5 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			stats.Received.Add(1)
			select {
			case inbox <- inItem{m, time.Now()}:
			case <-ctx.Done():
			}
		}).
		SetOnConnectHandler(func(c paho.Client) {
			// The session keeps the subscription; subscribing again on
			// every connection also covers a session the broker lost.
			go func() {
				tok := c.SubscribeMultiple(Filters(o.Group), nil)
				err := errors.New("no SUBACK within 10s")
				if tok.WaitTimeout(10 * time.Second) {
					err = tok.Error()
				}
				if st, ok := tok.(*paho.SubscribeToken); ok && err == nil {
					for t, q := range st.Result() {
						if q == 0x80 {
							err = &refusedError{t}
						}
					}
				}
				if err != nil {
					o.Logger.Error("ingest: subscribe", "err", err)
				}
				if !subscribed.Swap(true) {
					first <- err
				}
			}()
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			o.Logger.Warn("ingest: broker connection lost; reconnecting", "err", err)
		})
	client := paho.NewClient(&co)
	client.Connect() // retries in the background until ctx ends
	defer client.Disconnect(250)
	// The writer runs from the start: a persistent session's queued
	// messages arrive before the SUBACK, and the SUBACK waits behind them.
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	go func() {
		select {
		case err := <-first:
			var refused *refusedError
			if errors.As(err, &refused) {
				fail(fmt.Errorf("ingest: %w", err))
				return
			}
			o.Logger.Info("ingest: subscribed", "group", o.Group)
		case <-ctx.Done():
		}
	}()
	defer func() {
		var refused *refusedError
		if err := context.Cause(ctx); errors.As(err, &refused) && result == nil {
			result = err
		}
	}()

	w := writer{store: store, o: o, stats: stats}
	var batch []inItem
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		batch = batch[:0]
		select {
		case it := <-inbox:
			batch = append(batch, it)
		case <-ctx.Done():
			return nil
		}
		linger.Reset(o.Linger)
	fill:
		for len(batch) < o.BatchMax {
			select {
			case it := <-inbox:
				batch = append(batch, it)
			case <-linger.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		linger.Stop()
		// A stop request still lets the batch in hand commit, so what
		// was stored is acknowledged; the rest is delivered again.
		wctx := ctx
		var cancel context.CancelFunc = func() {}
		if ctx.Err() != nil {
			wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		}
		ok := w.write(wctx, batch)
		cancel()
		if !ok {
			return nil
		}
		for _, it := range batch {
			it.msg.Ack()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

type writer struct {
	store *Store
	o     IngestOptions
	stats *IngestStats
}

type badMsg struct {
	topic   string
	payload []byte
	err     error
}

// write stores a batch, retrying for as long as the database is away; it
// returns false only when ctx ends first (nothing is acknowledged then).
func (w *writer) write(ctx context.Context, batch []inItem) bool {
	msgs := make([]Message, 0, len(batch))
	var bad []badMsg
	for _, it := range batch {
		m, err := Decode(it.msg.Topic(), it.msg.Payload())
		switch {
		case errors.Is(err, ErrNotFleet), errors.Is(err, ErrEmpty):
			w.stats.Skipped.Add(1)
		case err != nil:
			bad = append(bad, badMsg{it.msg.Topic(), it.msg.Payload(), err})
		default:
			msgs = append(msgs, m)
		}
	}
	backoff := 100 * time.Millisecond
	for {
		err := w.store.Apply(ctx, msgs)
		if err != nil && Permanent(err) {
			msgs, bad, err = w.oneByOne(ctx, msgs, bad)
		}
		if err == nil {
			for len(bad) > 0 {
				if err = w.store.Reject(ctx, bad[0].topic, bad[0].payload, bad[0].err); err != nil {
					break
				}
				w.o.Logger.Warn("ingest: message rejected", "topic", bad[0].topic, "err", bad[0].err)
				w.stats.Rejected.Add(1)
				bad = bad[1:]
			}
		}
		if err == nil {
			w.stats.Stored.Add(uint64(len(msgs)))
			if w.o.Committed != nil {
				w.o.Committed(msgs)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		w.stats.Retries.Add(1)
		w.o.Logger.Warn("ingest: database write failed; retrying", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return false
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// oneByOne finds the messages the database refuses for good, so one bad
// message cannot hold up the batch it came in. A transient error stops it:
// the caller retries the lot (storing a message twice changes nothing).
func (w *writer) oneByOne(ctx context.Context, msgs []Message, bad []badMsg) ([]Message, []badMsg, error) {
	keep := msgs[:0:0]
	for i, m := range msgs {
		err := w.store.Apply(ctx, []Message{m})
		switch {
		case err == nil:
			keep = append(keep, m)
		case Permanent(err):
			bad = append(bad, badMsg{m.Topic, m.Raw, err})
		default:
			return append(keep, msgs[i:]...), bad, err
		}
	}
	return keep, bad, nil
}
