package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/camwarden/camwarden/board"
)

// Mode chooses how the board is drawn.
type Mode uint8

const (
	Auto   Mode = iota // Redraw on a terminal, Lines otherwise
	Lines              // one line per change (logs, pipes)
	Redraw             // one status line redrawn in place
)

// Options configures New.
type Options struct {
	Mode Mode
	// Relay, if set, is switched for real (e.g. a labrelay) and drawn;
	// nil draws a simulated relay.
	Relay board.Relay
	// Input, if set, is read for button presses, one per line: an empty
	// line is a tap (acknowledge), "hold" a lamp-test hold, a number that
	// many seconds held.
	Input io.Reader
	Now   func() time.Time
}

// Board draws LEDs and relay on w.
type Board struct {
	w      io.Writer
	redraw bool
	now    func() time.Time
	epoch  time.Time
	real   board.Relay

	mu       sync.Mutex
	patterns map[string]board.Pattern
	cut      bool
	last     string // last drawn line, to skip identical redraws
	presses  board.PressHub
	stop     chan struct{}
	wake     chan struct{}
	done     sync.WaitGroup
	closed   bool
}

// New starts drawing on w.
func New(w io.Writer, o Options) *Board {
	b := &Board{w: w, now: o.Now, real: o.Relay, patterns: map[string]board.Pattern{},
		stop: make(chan struct{}), wake: make(chan struct{}, 1)}
	if b.now == nil {
		b.now = time.Now
	}
	b.epoch = b.now()
	switch o.Mode {
	case Redraw:
		b.redraw = true
	case Auto:
		b.redraw = isTerminal(w)
	}
	if b.real != nil {
		b.cut = b.real.IsCut()
	}
	if b.redraw {
		b.done.Add(1)
		go b.drawLoop()
	}
	if o.Input != nil {
		go b.readInput(o.Input) // not joined: a blocked read cannot be interrupted
	}
	return b
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type led struct {
	b    *Board
	name string
}

func (l led) Set(p board.Pattern) error {
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, ok := b.patterns[l.name]; ok && cur == p || !ok && p == board.Off {
		b.patterns[l.name] = p
		return nil
	}
	b.patterns[l.name] = p
	b.changed(fmt.Sprintf("led %-8s -> %s", l.name, p))
	return nil
}

// LED returns the named LED; every name is drawn.
func (b *Board) LED(name string) board.LED { return led{b, name} }

type relay struct{ b *Board }

func (r relay) Cut(cut bool) error {
	b := r.b
	if b.real != nil {
		if err := b.real.Cut(cut); err != nil {
			b.mu.Lock()
			b.changed(fmt.Sprintf("relay    FAILED: %v", err))
			b.mu.Unlock()
			return err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cut == cut {
		return nil
	}
	b.cut = cut
	b.changed("relay    -> " + relayWord(cut))
	return nil
}

func (r relay) IsCut() bool {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return r.b.cut
}

// Relay returns the drawn relay.
func (b *Board) Relay() board.Relay { return relay{b} }

// Button returns presses read from Options.Input (never any without it).
func (b *Board) Button() board.Button { return button{b} }

type button struct{ b *Board }

func (bt button) Presses(ctx context.Context) <-chan board.Press {
	return bt.b.presses.Subscribe(ctx, 8)
}

// parsePress reads one input line as a press.
func parsePress(line string) (time.Duration, bool) {
	line = strings.TrimSpace(strings.ToLower(line))
	switch line {
	case "", "a", "ack":
		return 200 * time.Millisecond, true
	case "h", "hold":
		return board.LampTestHold + time.Second, true
	}
	if s, err := strconv.ParseFloat(line, 64); err == nil && s >= 0 && s < 3600 {
		return time.Duration(s * float64(time.Second)), true
	}
	return 0, false
}

func (b *Board) readInput(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 256), 256) // a line is a keypress, not a document
	for sc.Scan() {
		held, ok := parsePress(sc.Text())
		if !ok {
			continue
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return
		}
		p := board.Press{At: b.now(), Held: held}
		b.presses.Publish(p)
		b.changed(fmt.Sprintf("button   pressed %v (%s)", held, board.GestureOf(p)))
		b.mu.Unlock()
	}
}

// Close stops drawing and ends the status line.
func (b *Board) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.stop)
	b.mu.Unlock()
	b.done.Wait()
	if b.redraw {
		b.mu.Lock()
		fmt.Fprintln(b.w)
		b.mu.Unlock()
	}
	return nil
}

// changed reports a change: a line of its own, or a redraw. b.mu held.
func (b *Board) changed(msg string) {
	if b.closed {
		return
	}
	if !b.redraw {
		fmt.Fprintf(b.w, "%s %s\n", b.now().Format("15:04:05.000"), msg)
		return
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func relayWord(cut bool) string {
	if cut {
		return "CUT (uplink disconnected)"
	}
	return "connected"
}

// Render draws the status line for the given state at elapsed since the
// blink epoch: "●" lit, "○" dark, blink patterns named after the glyph.
func Render(patterns map[string]board.Pattern, cut bool, elapsed time.Duration) string {
	var sb strings.Builder
	for _, name := range board.LEDNames {
		p := patterns[name]
		g := "○"
		if lit(p, elapsed) {
			g = "●"
		}
		sb.WriteString(g + " " + name)
		if p == board.SlowBlink || p == board.FastBlink {
			sb.WriteString("(" + p.String() + ")")
		}
		sb.WriteString("  ")
	}
	sb.WriteString("| uplink " + relayWord(cut))
	return sb.String()
}

func lit(p board.Pattern, elapsed time.Duration) bool {
	switch p {
	case board.On:
		return true
	case board.SlowBlink:
		return elapsed%board.SlowPeriod < board.SlowPeriod/2
	case board.FastBlink:
		return elapsed%board.FastPeriod < board.FastPeriod/2
	}
	return false
}

// drawLoop redraws the status line every fast half-period while anything
// blinks, and on every change.
func (b *Board) drawLoop() {
	defer b.done.Done()
	t := time.NewTicker(board.FastPeriod / 2)
	defer t.Stop()
	for {
		b.mu.Lock()
		line := Render(b.patterns, b.cut, b.now().Sub(b.epoch))
		if line != b.last {
			// \r and erase-line redraw in place; nothing else is assumed of
			// the terminal.
			fmt.Fprintf(b.w, "\r\x1b[K%s", line)
			b.last = line
		}
		b.mu.Unlock()
		select {
		case <-b.stop:
			return
		case <-b.wake:
		case <-t.C:
		}
	}
}

var _ board.Board = (*Board)(nil)
