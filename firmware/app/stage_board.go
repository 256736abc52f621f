package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/camwarden/camwarden/board"
	"github.com/camwarden/camwarden/board/console"
	"github.com/camwarden/camwarden/board/labrelay"
	"github.com/camwarden/camwarden/board/periph"
	"github.com/camwarden/camwarden/firmware/config"
)

// BoardIO is where a console board draws and reads button presses.
type BoardIO struct {
	Out   io.Writer // default os.Stdout
	In    io.Reader // lines typed here are button presses; nil = none
	Lines bool      // one line per change instead of redrawing in place
}

// OpenBoard builds the configured board. With a lab relay configured, the
// relay switches the lab's uplink link whatever the board kind.
func OpenBoard(c config.Board, bio BoardIO, log *slog.Logger) (board.Board, error) {
	var relay board.Relay
	if c.LabRelay != nil {
		r, err := labrelay.Open(c.LabRelay.Netns, c.LabRelay.Link)
		if err != nil {
			return nil, fmt.Errorf("board.lab_relay: %w", err)
		}
		relay = r
	}
	var b board.Board
	switch c.Kind {
	case "periph":
		pc := periph.Config{LEDs: map[string]periph.PinConfig{}}
		for name, pin := range c.LEDs {
			pc.LEDs[name] = periph.PinConfig{Pin: pin}
		}
		if c.Relay.Pin != "" {
			pc.Relay = periph.RelayConfig{Pin: c.Relay.Pin, Polarity: periph.Polarity("active_" + c.Relay.Active),
				Contacts: periph.Contacts(c.Relay.Contacts)}
		}
		pc.Button = periph.ButtonConfig{Pin: c.Button}
		pb, err := periph.Open(pc, log)
		if err != nil {
			return nil, fmt.Errorf("board: %w", err)
		}
		b = pb
	case "console":
		out := bio.Out
		if out == nil {
			out = os.Stdout
		}
		mode := console.Auto
		if bio.Lines {
			mode = console.Lines
		}
		// The console draws the lab relay's real state when there is one.
		return console.New(out, console.Options{Mode: mode, Relay: relay, Input: bio.In}), nil
	default:
		b = nopBoard{}
	}
	if relay != nil {
		b = withRelay{Board: b, relay: relay}
	}
	return b, nil
}

// nopBoard has no LEDs, no relay and no button: for boxes run headless.
type nopBoard struct{}

func (nopBoard) LED(string) board.LED { return board.NopLED{} }
func (nopBoard) Relay() board.Relay   { return nil }
func (nopBoard) Button() board.Button { return nil }
func (nopBoard) Close() error         { return nil }

// withRelay replaces a board's relay (the lab relay on a console board).
type withRelay struct {
	board.Board
	relay board.Relay
}

func (w withRelay) Relay() board.Relay { return w.relay }

// startBoard opens the board and starts the start-up LED sweep, which
// shows an installer every LED works. The sweep runs beside start-up: the
// persisted relay state is restored at once (stage_enforcer.go) and capture
// and probing start without waiting for it, while the patterns the enforcer
// sets show when the sweep is over (board.StartSweep).
func (d *daemon) startBoard() error {
	b := d.opts.Board
	if b == nil {
		var err error
		if b, err = OpenBoard(d.cfg.Board, d.opts.BoardIO, d.log); err != nil {
			return err
		}
	}
	sb, swept := board.StartSweep(d.ctx, b, board.SweepStep)
	d.board = sb
	d.onClose(func() {
		<-swept // no LED write after Close
		b.Close()
	})
	go func() {
		if err := <-swept; err != nil && d.ctx.Err() == nil {
			d.log.Warn("LED sweep", "err", err)
		}
	}()
	return nil
}
