package boardtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/board"
)

func TestRecordsChanges(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0
	b := New(WithClock(func() time.Time { return now }))
	b.LED(board.LEDAlert).Set(board.Off) // initial off is not a change
	b.LED(board.LEDAlert).Set(board.SlowBlink)
	b.LED(board.LEDAlert).Set(board.SlowBlink) // repeat is not a change
	now = now.Add(time.Second)
	b.Relay().Cut(true)
	b.Relay().Cut(true)
	h := b.History()
	if len(h) != 2 {
		t.Fatalf("history = %+v, want 2 changes", h)
	}
	if h[0].LED != board.LEDAlert || h[0].Pattern != board.SlowBlink || !h[0].At.Equal(t0) {
		t.Errorf("first change = %+v", h[0])
	}
	if !h[1].Relay || !h[1].Cut || !h[1].At.Equal(t0.Add(time.Second)) {
		t.Errorf("second change = %+v", h[1])
	}
	if !b.RelayCut() || !b.Relay().IsCut() || b.LastPattern(board.LEDAlert) != board.SlowBlink {
		t.Error("state does not match history")
	}
	if b.LastPattern(board.LEDBroker) != board.Off {
		t.Error("unset LED should read off")
	}
}

func TestFailures(t *testing.T) {
	b := New()
	boom := errors.New("boom")
	b.FailRelay(boom)
	if err := b.Relay().Cut(true); !errors.Is(err, boom) || b.RelayCut() {
		t.Fatalf("failed relay: err=%v cut=%v", err, b.RelayCut())
	}
	b.FailRelay(nil)
	if err := b.Relay().Cut(true); err != nil || !b.RelayCut() {
		t.Fatalf("healed relay: err=%v", err)
	}
	b.FailLED(board.LEDPower, boom)
	if err := b.LED(board.LEDPower).Set(board.On); !errors.Is(err, boom) {
		t.Fatalf("failed LED: %v", err)
	}
}

func TestPressButton(t *testing.T) {
	b := New()
	b.PressButton(time.Second) // before anyone listens: kept
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Button().Presses(ctx)
	if p := <-ch; p.Held != time.Second {
		t.Fatalf("pending press held %v", p.Held)
	}
	b.PressButton(6 * time.Second)
	if p := <-ch; !board.IsLampTest(p) {
		t.Fatalf("press %v not a lamp test", p.Held)
	}
	cancel()
	if _, ok := <-ch; ok {
		t.Fatal("channel not closed after ctx end")
	}
}

func TestConcurrentUse(t *testing.T) {
	b := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				b.LED(board.LEDNames[i%len(board.LEDNames)]).Set(board.Pattern(j % 4))
				b.Relay().Cut(j%2 == 0)
				_ = b.History()
			}
		}()
	}
	wg.Wait()
}
