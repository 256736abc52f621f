package board

import "time"

// Gesture is what a debounced button press means. The button is the only
// local input an installer has, so the vocabulary is kept to two gestures that
// cannot be confused: a tap and a long, deliberate hold. Presses between the
// two are ignored rather than guessed at, so leaning on the box does nothing.
type Gesture uint8

const (
	// GestureNone: the press matched no gesture (too long for a tap, too
	// short for a hold) and is ignored.
	GestureNone Gesture = iota
	// GestureAck: a short press acknowledges the current alert or relay cut.
	GestureAck
	// GestureLampTest: holding the button lights every LED so an installer
	// can check that none is dead.
	GestureLampTest
)

// Press-pattern thresholds (see LEGEND.md).
const (
	// AckMaxHold is the longest press that still counts as a tap.
	AckMaxHold = 2 * time.Second
	// LampTestHold is how long the button must be held for a lamp test.
	LampTestHold = 5 * time.Second
	// LampTestDuration is how long the lamp test keeps every LED lit.
	LampTestDuration = 3 * time.Second
)

func (g Gesture) String() string {
	switch g {
	case GestureAck:
		return "acknowledge"
	case GestureLampTest:
		return "lamp-test"
	}
	return "none"
}

// GestureOf classifies a press: up to AckMaxHold is an acknowledge, from
// LampTestHold on a lamp test, anything between is ignored.
func GestureOf(p Press) Gesture {
	switch {
	case p.Held < 0:
		return GestureNone
	case p.Held <= AckMaxHold:
		return GestureAck
	case p.Held >= LampTestHold:
		return GestureLampTest
	}
	return GestureNone
}

// IsAck reports whether p is an acknowledge press.
func IsAck(p Press) bool { return GestureOf(p) == GestureAck }

// IsLampTest reports whether p is a lamp-test hold.
func IsLampTest(p Press) bool { return GestureOf(p) == GestureLampTest }
