package board

import (
	"context"
	"fmt"
	"time"
)

// Pattern is what an LED shows.
type Pattern uint8

const (
	Off Pattern = iota
	On
	SlowBlink // 1 Hz: "working on it" / "attention soon"
	FastBlink // 4 Hz: "act now"
)

// Blink periods: a full on+off cycle.
const (
	SlowPeriod = time.Second
	FastPeriod = 250 * time.Millisecond
)

func (p Pattern) String() string {
	switch p {
	case Off:
		return "off"
	case On:
		return "on"
	case SlowBlink:
		return "slow"
	case FastBlink:
		return "fast"
	}
	return fmt.Sprintf("pattern(%d)", uint8(p))
}

// ParsePattern is the inverse of Pattern.String.
func ParsePattern(s string) (Pattern, error) {
	for p := Off; p <= FastBlink; p++ {
		if p.String() == s {
			return p, nil
		}
	}
	return Off, fmt.Errorf("board: unknown LED pattern %q (want off, on, slow or fast)", s)
}

// LED names: the legend in the README is written against these.
const (
	LEDPower    = "power"    // health: on = healthy, slow = starting/unconfigured, fast = fault
	LEDActivity = "activity" // probing/capture activity
	LEDAlert    = "alert"    // flagged device present: slow = alert only, fast = isolate pending/ack needed
	LEDUplink   = "uplink"   // on = uplink cut by the relay
	LEDBroker   = "broker"   // on = MQTT connected, slow = connecting, off = not configured
)

// LEDNames lists the LEDs in legend order.
var LEDNames = []string{LEDPower, LEDActivity, LEDAlert, LEDUplink, LEDBroker}

// LED shows a pattern. Set must be cheap and idempotent; blinking is the
// implementation's job.
type LED interface {
	Set(Pattern) error
}

// Relay switches the VLAN's uplink. Cut(true) opens the path to the core
// network (uplink cut), Cut(false) restores it. Implementations translate this
// into pin levels according to their wiring (active-low, NC/NO contacts).
type Relay interface {
	Cut(cut bool) error
	IsCut() bool
}

// Button reports presses of the acknowledge button, debounced. Press carries
// how long the button was held.
type Button interface {
	// Presses delivers one value per debounced press until ctx ends.
	Presses(ctx context.Context) <-chan Press
}

// Press is one debounced press of the button.
type Press struct {
	At   time.Time
	Held time.Duration
}

// Board is the set of outputs and inputs one appliance has. LED returns a
// no-op LED for a name the board does not have, so a board with fewer LEDs
// still works. Button may be nil.
type Board interface {
	LED(name string) LED
	Relay() Relay
	Button() Button
	Close() error
}

// NopLED ignores every pattern.
type NopLED struct{}

func (NopLED) Set(Pattern) error { return nil }
