package board_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/board"
	"github.com/camwarden/camwarden/board/boardtest"
)

func TestGestureOf(t *testing.T) {
	for _, tc := range []struct {
		held time.Duration
		want board.Gesture
	}{
		{0, board.GestureAck},
		{80 * time.Millisecond, board.GestureAck},
		{2 * time.Second, board.GestureAck},
		{2*time.Second + 1, board.GestureNone},
		{4 * time.Second, board.GestureNone},
		{5 * time.Second, board.GestureLampTest},
		{30 * time.Second, board.GestureLampTest},
		{-1, board.GestureNone},
	} {
		if got := board.GestureOf(board.Press{Held: tc.held}); got != tc.want {
			t.Errorf("GestureOf(%v) = %v, want %v", tc.held, got, tc.want)
		}
	}
}

func TestParsePatternRoundTrip(t *testing.T) {
	for p := board.Off; p <= board.FastBlink; p++ {
		q, err := board.ParsePattern(p.String())
		if err != nil || q != p {
			t.Errorf("ParsePattern(%q) = %v, %v", p, q, err)
		}
	}
	if _, err := board.ParsePattern("disco"); err == nil {
		t.Error("ParsePattern accepted nonsense")
	}
}

func TestSelfTest(t *testing.T) {
	for _, withRelay := range []bool{false, true} {
		b := boardtest.New()
		var out bytes.Buffer
		if err := board.SelfTestStep(context.Background(), b, withRelay, &out, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		seen := map[string][]board.Pattern{}
		relay := 0
		for _, c := range b.History() {
			if c.Relay {
				relay++
				continue
			}
			seen[c.LED] = append(seen[c.LED], c.Pattern)
		}
		for _, name := range board.LEDNames {
			want := []board.Pattern{board.On, board.SlowBlink, board.FastBlink, board.Off}
			if got := seen[name]; len(got) != 4 || got[0] != want[0] || got[3] != board.Off {
				t.Errorf("relay=%v led %s went %v, want %v", withRelay, name, got, want)
			}
		}
		if withRelay && (relay != 2 || b.RelayCut()) {
			t.Errorf("relay clicked %d times, cut=%v; want cut then restore", relay, b.RelayCut())
		}
		if !withRelay && relay != 0 {
			t.Errorf("relay clicked %d times without being asked", relay)
		}
		if !strings.Contains(out.String(), "self-test done") {
			t.Errorf("output missing summary:\n%s", out.String())
		}
	}
}

func TestSelfTestRelayFailureRestores(t *testing.T) {
	b := boardtest.New()
	b.Relay().Cut(true) // found cut: must be left cut
	b.FailRelay(errors.New("coil open"))
	var out bytes.Buffer
	err := board.SelfTestStep(context.Background(), b, true, &out, time.Millisecond)
	if err == nil || !strings.Contains(out.String(), "FAILED") {
		t.Fatalf("want failure reported, got err=%v out=%s", err, out.String())
	}
	if !b.RelayCut() {
		t.Error("relay left restored after failed self-test")
	}
}

func TestSweep(t *testing.T) {
	b := boardtest.New()
	if err := board.Sweep(context.Background(), b, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	h := b.History()
	if len(h) != 2*len(board.LEDNames) {
		t.Fatalf("sweep made %d changes: %+v", len(h), h)
	}
	for i, name := range board.LEDNames {
		if h[2*i].LED != name || h[2*i].Pattern != board.On || h[2*i+1].Pattern != board.Off {
			t.Errorf("step %d: %+v %+v", i, h[2*i], h[2*i+1])
		}
	}
}

// The start-up sweep runs beside the daemon: the relay answers at once,
// patterns set meanwhile wait for the sweep and then show, the newest
// winning, and nothing the sweep does lands after them.
func TestStartSweepHoldsPatternsNotTheRelay(t *testing.T) {
	b := boardtest.New()
	sb, done := board.StartSweep(context.Background(), b, 30*time.Millisecond)
	if err := sb.Relay().Cut(true); err != nil || !b.RelayCut() {
		t.Fatalf("relay not cut at once through the sweeping board: %v", err)
	}
	alert := sb.LED(board.LEDAlert)
	if err := alert.Set(board.SlowBlink); err != nil {
		t.Fatal(err)
	}
	if err := alert.Set(board.FastBlink); err != nil {
		t.Fatal(err)
	}
	for _, c := range b.History() {
		if c.Pattern == board.SlowBlink || c.Pattern == board.FastBlink {
			t.Fatalf("a pattern reached the LED during the sweep: %+v", b.History())
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var h []boardtest.Change
	for _, c := range b.History() {
		if !c.Relay {
			h = append(h, c)
		}
	}
	if len(h) != 2*len(board.LEDNames)+1 {
		t.Fatalf("want the sweep then one held pattern, got %+v", h)
	}
	if last := h[len(h)-1]; last.LED != board.LEDAlert || last.Pattern != board.FastBlink {
		t.Fatalf("last change %+v, want alert fast (the newest held pattern)", last)
	}
	if err := sb.LED(board.LEDPower).Set(board.On); err != nil || b.LastPattern(board.LEDPower) != board.On {
		t.Fatalf("after the sweep a pattern goes straight through: %v %v", err, b.LastPattern(board.LEDPower))
	}
}
