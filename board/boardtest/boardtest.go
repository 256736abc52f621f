package boardtest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/camwarden/camwarden/board"
)

// Change is one recorded change of an output.
type Change struct {
	At      time.Time
	LED     string        // LED name; "" for a relay change
	Pattern board.Pattern // for LED changes
	Relay   bool          // true for a relay change
	Cut     bool          // for relay changes: the new state
}

// Board is a fake board.Board. The zero value is not usable; call New.
type Board struct {
	now func() time.Time

	mu       sync.Mutex
	history  []Change
	patterns map[string]board.Pattern
	cut      bool
	relayErr error
	ledErr   map[string]error
	closed   bool
	presses  board.PressHub
}

// Option configures New.
type Option func(*Board)

// WithClock stamps changes with now instead of time.Now.
func WithClock(now func() time.Time) Option { return func(b *Board) { b.now = now } }

// New returns a fake board with every LED in board.LEDNames off and the
// relay not cut.
func New(opts ...Option) *Board {
	b := &Board{
		now:      time.Now,
		patterns: map[string]board.Pattern{},
		ledErr:   map[string]error{},
		presses:  board.PressHub{KeepUnheard: true},
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

type led struct {
	b    *Board
	name string
}

func (l led) Set(p board.Pattern) error {
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	if err := l.b.ledErr[l.name]; err != nil {
		return err
	}
	// Only changes are recorded: Set is idempotent by contract and callers
	// re-apply patterns freely, so repeats would drown the history.
	if cur, ok := l.b.patterns[l.name]; ok && cur == p {
		return nil
	}
	if _, ok := l.b.patterns[l.name]; !ok && p == board.Off {
		l.b.patterns[l.name] = p
		return nil
	}
	l.b.patterns[l.name] = p
	l.b.history = append(l.b.history, Change{At: l.b.now(), LED: l.name, Pattern: p})
	return nil
}

// LED returns a recording LED for any name.
func (b *Board) LED(name string) board.LED { return led{b, name} }

type relay struct{ b *Board }

func (r relay) Cut(cut bool) error {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.b.relayErr != nil {
		return r.b.relayErr
	}
	if r.b.cut == cut {
		return nil
	}
	r.b.cut = cut
	r.b.history = append(r.b.history, Change{At: r.b.now(), Relay: true, Cut: cut})
	return nil
}

func (r relay) IsCut() bool { return r.b.RelayCut() }

// Relay returns the fake relay.
func (b *Board) Relay() board.Relay { return relay{b} }

type button struct{ b *Board }

func (bt button) Presses(ctx context.Context) <-chan board.Press {
	return bt.b.presses.Subscribe(ctx, 16)
}

// Button returns the fake button; presses come from PressButton.
func (b *Board) Button() board.Button { return button{b} }

// Close marks the board closed.
func (b *Board) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// Closed reports whether Close was called.
func (b *Board) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// PressButton delivers a press held for held to every listener, stamped with
// the board's clock. A press made while nobody listens is kept for the first
// listener, so a test need not race the code's subscription.
func (b *Board) PressButton(held time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.presses.Publish(board.Press{At: b.now(), Held: held})
}

// History returns a copy of every recorded change, oldest first.
func (b *Board) History() []Change {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.history)
}

// ResetHistory forgets recorded changes but keeps the current state.
func (b *Board) ResetHistory() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.history = nil
}

// LastPattern returns the pattern the LED was last set to (Off if never).
func (b *Board) LastPattern(name string) board.Pattern {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.patterns[name]
}

// Patterns returns the current pattern of every LED that was ever set.
func (b *Board) Patterns() map[string]board.Pattern {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := make(map[string]board.Pattern, len(b.patterns))
	for k, v := range b.patterns {
		m[k] = v
	}
	return m
}

// RelayCut reports whether the relay is currently cut.
func (b *Board) RelayCut() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cut
}

// RelaySwitches counts relay changes in the history.
func (b *Board) RelaySwitches() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.history {
		if c.Relay {
			n++
		}
	}
	return n
}

// FailRelay makes every later Cut return err (nil heals the relay).
func (b *Board) FailRelay(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.relayErr = err
}

// FailLED makes Set on the named LED return err (nil heals it).
func (b *Board) FailLED(name string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ledErr[name] = err
}

// WaitFor polls cond until it holds or timeout passes, and reports whether it
// held. It exists for code under test that switches outputs from its own
// goroutine.
func (b *Board) WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var _ board.Board = (*Board)(nil)
