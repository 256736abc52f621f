package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// selfTestStep is how long each visible step of SelfTest lasts: long enough
// for a person watching the box to see each LED change.
const selfTestStep = 700 * time.Millisecond

// SweepStep is the per-LED time of the start-up sweep.
const SweepStep = 150 * time.Millisecond

// SelfTest exercises the board for `camwarden board-test`: it shows each LED
// in turn on, slow, fast and off, and, only when withRelay is true, cuts and
// restores the relay (the relay clicks and the uplink really drops for a
// moment, which is why it needs asking for). It writes what it does to w, so
// the person at the box can match what they see. The relay is left in the
// state it was found in. All errors are reported; the test goes on past a
// failing LED so one dead pin does not hide the others.
func SelfTest(ctx context.Context, b Board, withRelay bool, w io.Writer) error {
	return selfTest(ctx, b, withRelay, w, selfTestStep)
}

func selfTest(ctx context.Context, b Board, withRelay bool, w io.Writer, step time.Duration) error {
	if w == nil {
		w = io.Discard
	}
	var errs []error
	for _, name := range LEDNames {
		l := b.LED(name)
		for _, p := range []Pattern{On, SlowBlink, FastBlink, Off} {
			fmt.Fprintf(w, "led %-8s %s\n", name, p)
			if err := l.Set(p); err != nil {
				fmt.Fprintf(w, "led %-8s FAILED: %v\n", name, err)
				errs = append(errs, fmt.Errorf("board: self-test led %s %s: %w", name, p, err))
				break
			}
			// Blink patterns get two full slow periods so both rates are
			// visibly different; steady states need only one step.
			d := step
			if p == SlowBlink || p == FastBlink {
				d = 2 * step
			}
			if err := sleep(ctx, d); err != nil {
				l.Set(Off)
				return errors.Join(append(errs, err)...)
			}
		}
	}
	r := b.Relay()
	switch {
	case !withRelay:
		fmt.Fprintln(w, "relay    skipped (pass --relay to click it; the uplink drops briefly)")
	case r == nil:
		fmt.Fprintln(w, "relay    none on this board")
	default:
		was := r.IsCut()
		for _, cut := range []bool{!was, was} {
			fmt.Fprintf(w, "relay    %s\n", relayWord(cut))
			if err := r.Cut(cut); err != nil {
				fmt.Fprintf(w, "relay    FAILED: %v\n", err)
				errs = append(errs, fmt.Errorf("board: self-test relay cut=%t: %w", cut, err))
				// Put the relay back whatever happened; the uplink must
				// not stay in the opposite state because of a test.
				r.Cut(was)
				break
			}
			if err := sleep(ctx, 2*step); err != nil {
				r.Cut(was)
				return errors.Join(append(errs, err)...)
			}
		}
	}
	if len(errs) == 0 {
		fmt.Fprintln(w, "self-test done: every output switched without error (check with your eyes that each LED lit)")
	}
	return errors.Join(errs...)
}

func relayWord(cut bool) string {
	if cut {
		return "cut (uplink disconnected)"
	}
	return "restored (uplink connected)"
}

// Sweep lights each LED in legend order for step, then turns it off: a
// start-up sign of life that also shows at a glance that every LED works.
// Callers set the real patterns afterwards.
func Sweep(ctx context.Context, b Board, step time.Duration) error {
	var errs []error
	for _, name := range LEDNames {
		l := b.LED(name)
		if err := l.Set(On); err != nil {
			errs = append(errs, fmt.Errorf("board: sweep led %s: %w", name, err))
			continue
		}
		err := sleep(ctx, step)
		if err2 := l.Set(Off); err2 != nil {
			errs = append(errs, fmt.Errorf("board: sweep led %s: %w", name, err2))
		}
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	return errors.Join(errs...)
}

// StartSweep runs Sweep in the background and returns b wrapped so that
// the daemon need not wait for it: start-up (restoring a latched cut,
// capture, the first probes) goes on at once, where a blocking sweep held
// it back by one LED step per LED (0.75 s at SweepStep). Until the sweep
// ends the wrapper's LEDs keep the last pattern each was set to and show it
// when the sweep is over, so the sweep and the real patterns never fight
// over an LED. The relay and button pass straight through. The channel
// yields the sweep's error (nil when it went well) once the held patterns
// are shown, then is closed.
func StartSweep(ctx context.Context, b Board, step time.Duration) (Board, <-chan error) {
	s := &sweeping{Board: b, held: map[string]Pattern{}}
	done := make(chan error, 1)
	go func() {
		err := Sweep(ctx, b, step)
		s.mu.Lock()
		s.over = true
		for _, name := range LEDNames {
			if p, ok := s.held[name]; ok {
				err = errors.Join(err, b.LED(name).Set(p))
				delete(s.held, name)
			}
		}
		for name, p := range s.held { // names outside the legend
			err = errors.Join(err, b.LED(name).Set(p))
		}
		s.held = nil
		s.mu.Unlock()
		done <- err
		close(done)
	}()
	return s, done
}

type sweeping struct {
	Board
	mu   sync.Mutex
	over bool
	held map[string]Pattern // while the sweep runs: the last pattern set per LED
}

func (s *sweeping) LED(name string) LED { return heldLED{s: s, name: name} }

type heldLED struct {
	s    *sweeping
	name string
}

// Set keeps p until the sweep is over, then sets it on the real LED. The
// lock also orders a Set racing the end of the sweep after the held
// pattern, so the newest pattern wins.
func (l heldLED) Set(p Pattern) error {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if !l.s.over {
		l.s.held[l.name] = p
		return nil
	}
	return l.s.Board.LED(l.name).Set(p)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
