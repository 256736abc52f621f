package periph

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/camwarden/camwarden/board"
)

const (
	// pollInterval is used when the pin cannot report edges.
	pollInterval = 5 * time.Millisecond
	// idleWait bounds each wait for an edge so the reader notices Close.
	idleWait = 100 * time.Millisecond
	// maxSettle bounds the settle loop: a line that keeps bouncing for this
	// long is read as it is rather than blocking the reader forever.
	maxSettle = time.Second
)

type button struct {
	pin      gpio.PinIn
	pol      Polarity
	debounce time.Duration
	now      func() time.Time
	log      *slog.Logger
	edges    bool       // pin reports edges; otherwise polled
	last     gpio.Level // last polled level

	presses board.PressHub
}

func newButton(c ButtonConfig, p gpio.PinIn, now func() time.Time, log *slog.Logger) (*button, error) {
	pol, _ := parsePolarity(c.Polarity, ActiveLow, "")
	pull := gpio.PullDown
	if pol == ActiveLow {
		pull = gpio.PullUp
	}
	bt := &button{pin: p, pol: pol, debounce: c.Debounce, now: now, log: log}
	if bt.debounce == 0 {
		bt.debounce = DefaultDebounce
	}
	if err := p.In(pull, gpio.BothEdges); err == nil {
		bt.edges = true
	} else {
		// Some drivers cannot deliver edges; polling at 5 ms still
		// catches a human press comfortably.
		log.Warn("button edge detection unavailable, polling", "pin", c.Pin, "err", err)
		if err := p.In(pull, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("periph: button: pin %s: %w", c.Pin, err)
		}
	}
	bt.last = p.Read()
	return bt, nil
}

// waitChange waits up to d for the line to change.
func (bt *button) waitChange(d time.Duration) bool {
	if bt.edges {
		return bt.pin.WaitForEdge(d)
	}
	deadline := time.Now().Add(d)
	for {
		if l := bt.pin.Read(); l != bt.last {
			bt.last = l
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(min(pollInterval, time.Until(deadline)))
	}
}

func (bt *button) pressed() bool { return bt.pin.Read() == bt.pol.level(true) }

// run reads the line until stop: after any change it waits until the line
// has been quiet for the debounce time, then reads the settled level. The
// press is timed from the first edge of each burst, so bounce does not
// shorten or lengthen Held.
func (bt *button) run(stop <-chan struct{}) {
	down := bt.pressed()
	var downAt time.Time
	if down {
		// Held at start-up: we do not know since when, so it cannot be
		// timed; wait for the release and a fresh press.
		bt.log.Warn("button pressed at start-up; ignoring until released")
	}
	for {
		select {
		case <-stop:
			return
		default:
		}
		if !bt.waitChange(idleWait) {
			continue
		}
		first := bt.now()
		start := time.Now()
		for bt.waitChange(bt.debounce) && time.Since(start) < maxSettle {
		}
		now := bt.pressed()
		switch {
		case now && !down:
			down, downAt = true, first
		case !now && down:
			down = false
			if !downAt.IsZero() {
				bt.presses.Publish(board.Press{At: downAt, Held: first.Sub(downAt)})
			}
			downAt = time.Time{}
		}
	}
}

// Presses delivers debounced presses until ctx ends. Several listeners may
// subscribe; each gets every press.
func (bt *button) Presses(ctx context.Context) <-chan board.Press {
	return bt.presses.Subscribe(ctx, 8)
}
