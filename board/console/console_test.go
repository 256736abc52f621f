package console

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/board"
	"github.com/camwarden/camwarden/board/boardtest"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestLinesMode(t *testing.T) {
	var out syncBuf
	now := time.Date(2026, 1, 1, 9, 30, 0, 0, time.UTC)
	b := New(&out, Options{Now: func() time.Time { return now }}) // not a terminal: lines
	b.LED(board.LEDAlert).Set(board.Off)                          // initial off: nothing to say
	b.LED(board.LEDAlert).Set(board.FastBlink)
	b.LED(board.LEDAlert).Set(board.FastBlink)
	b.Relay().Cut(true)
	b.Relay().Cut(true)
	b.Close()
	want := "09:30:00.000 led alert    -> fast\n09:30:00.000 relay    -> CUT (uplink disconnected)\n"
	if out.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", out.String(), want)
	}
	if !b.Relay().IsCut() {
		t.Fatal("relay state lost")
	}
}

func TestRender(t *testing.T) {
	p := map[string]board.Pattern{board.LEDPower: board.On, board.LEDAlert: board.FastBlink, board.LEDBroker: board.SlowBlink}
	got := Render(p, true, 0)
	want := "● power  ○ activity  ● alert(fast)  ○ uplink  ● broker(slow)  | uplink CUT (uplink disconnected)"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	got = Render(p, false, 600*time.Millisecond) // 600 ms: fast is lit (600%250 < 125), slow dark (600%1000 >= 500)
	if !strings.Contains(got, "● alert(fast)") || !strings.Contains(got, "○ broker(slow)") || !strings.HasSuffix(got, "connected") {
		t.Fatalf("phase render: %q", got)
	}
}

func TestRedrawMode(t *testing.T) {
	var out syncBuf
	b := New(&out, Options{Mode: Redraw})
	b.LED(board.LEDUplink).Set(board.On)
	b.Relay().Cut(true)
	time.Sleep(50 * time.Millisecond)
	b.Close()
	s := out.String()
	if !strings.Contains(s, "\r\x1b[K") || !strings.Contains(s, "● uplink") || !strings.Contains(s, "CUT") {
		t.Fatalf("redraw output %q", s)
	}
	if strings.Count(s, "\n") != 1 {
		t.Fatalf("redraw mode printed extra lines: %q", s)
	}
}

func TestRealRelayAndInput(t *testing.T) {
	real := boardtest.New()
	pr, pw := io.Pipe()
	var out syncBuf
	b := New(&out, Options{Mode: Lines, Relay: real.Relay(), Input: pr})
	defer b.Close()
	if err := b.Relay().Cut(true); err != nil || !real.RelayCut() {
		t.Fatalf("real relay not switched: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.Button().Presses(ctx)
	go pw.Write([]byte("\nbogus\nhold\n2.5\n"))
	var got []time.Duration
	for range 3 {
		select {
		case p := <-ch:
			got = append(got, p.Held)
		case <-time.After(time.Second):
			t.Fatalf("presses so far %v", got)
		}
	}
	if !board.IsAck(board.Press{Held: got[0]}) || !board.IsLampTest(board.Press{Held: got[1]}) || got[2] != 2500*time.Millisecond {
		t.Fatalf("presses %v", got)
	}
	pw.Close()
}
