package periph

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	// Only the Linux GPIO character device driver is linked in. A Pi's
	// gpiochip and the test VM's gpio-sim both expose their lines there,
	// under names the config uses ("GPIO17"). host.Init would also register
	// every SoC and board driver periph knows (Allwinner, BeagleBone,
	// Odroid, sysfs, 1-wire...), about 300 KB on arm64 for pins camwarden
	// never drives.
	"periph.io/x/host/v3/gpioioctl"

	"github.com/camwarden/camwarden/board"
)

// Options are the dependencies New takes besides the wiring.
type Options struct {
	// Now is the clock for blink phases and press timestamps; nil means
	// time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Board drives LEDs, relay and button on GPIO pins.
type Board struct {
	now func() time.Time
	log *slog.Logger

	mu     sync.Mutex
	leds   map[string]*led
	epoch  time.Time // blink phase origin, so all LEDs blink in step
	relay  *relay
	button *button

	wake   chan struct{}
	stop   chan struct{}
	done   sync.WaitGroup
	closed bool
}

// Open initialises the GPIO character device driver and builds the board
// from cfg, resolving pin names through the host registry ("GPIO17").
func Open(cfg Config, log *slog.Logger) (*Board, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := driverreg.Init(); err != nil {
		return nil, fmt.Errorf("periph: host init: %w", err)
	}
	return New(cfg, hostPin, Options{Log: log})
}

// hostPin finds a pin by the name its chip gives the line. A name the
// chips do not use but that reads "GPIOn" is BCM line n of the Pi's SoC
// chip: mainline kernels name some header lines after their function
// ("SDA1" for GPIO2, "TXD1" for GPIO14) where the Raspberry Pi kernel says
// "GPIO2", and periph's bcm283x driver, which this build no longer links,
// answered to "GPIOn" on both.
func hostPin(name string) gpio.PinIO {
	if p := gpioreg.ByName(name); p != nil {
		return p
	}
	labels := make([]string, len(gpioioctl.Chips))
	for i, c := range gpioioctl.Chips {
		labels[i] = c.Label()
	}
	chip, n, ok := socLine(name, labels)
	if !ok {
		return nil
	}
	if l := gpioioctl.Chips[chip].ByNumber(n); l != nil {
		return l
	}
	return nil
}

// socLine says which chip (an index into labels) and line a "GPIOn" name
// means when no chip names a line that way: line n of the chip that carries
// the Pi's 40-pin header. On a Pi 5 that is RP1, not the BCM2712's own
// controllers (which sort first); on earlier Pis the BCM2835/BCM2711 one
// (the kernel labels BCM2837's pinctrl-bcm2835 too).
func socLine(name string, labels []string) (chip, line int, ok bool) {
	num, found := strings.CutPrefix(name, "GPIO")
	if !found {
		return 0, 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strconv.Itoa(n) != num {
		return 0, 0, false
	}
	for _, want := range []string{"pinctrl-rp1", "pinctrl-bcm2835", "pinctrl-bcm2711"} {
		for i, l := range labels {
			if strings.HasPrefix(l, want) {
				return i, n, true
			}
		}
	}
	return 0, 0, false
}

// New builds the board from cfg with pins from lookup (gpioreg.ByName on a
// real host, gpiotest pins in tests). A pin lookup returns nil for an
// unknown name; the error names the pin and what it was for.
func New(cfg Config, lookup func(name string) gpio.PinIO, o Options) (*Board, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Board{now: o.Now, log: o.Log, leds: map[string]*led{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{})}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.epoch = b.now()
	find := func(name, what string) (gpio.PinIO, error) {
		p := lookup(name)
		if p == nil {
			return nil, fmt.Errorf("periph: %s: pin %s not found on this host", what, name)
		}
		return p, nil
	}
	for _, name := range board.LEDNames {
		lc, ok := cfg.LEDs[name]
		if !ok || lc.Pin == "" {
			continue
		}
		p, err := find(lc.Pin, "led "+name)
		if err != nil {
			return nil, err
		}
		pol, _ := parsePolarity(lc.Polarity, ActiveHigh, "")
		l := &led{b: b, name: name, pin: p, pol: pol}
		if err := p.Out(pol.level(false)); err != nil {
			return nil, fmt.Errorf("periph: led %s: pin %s: %w", name, lc.Pin, err)
		}
		b.leds[name] = l
	}
	if cfg.Relay.Pin != "" {
		p, err := find(cfg.Relay.Pin, "relay")
		if err != nil {
			return nil, err
		}
		mode, _ := cfg.Relay.FailMode()
		// The relay pin is not driven here: whatever the uplink is doing
		// now (a cut latched before a restart) stays until Cut is called.
		b.relay = &relay{cfg: cfg.Relay, pin: p}
		b.log.Info("relay wiring", "pin", cfg.Relay.Pin, "polarity", cfg.Relay.Polarity,
			"contacts", cfg.Relay.Contacts, "fail_mode", mode)
	}
	if cfg.Button.Pin != "" {
		p, err := find(cfg.Button.Pin, "button")
		if err != nil {
			return nil, err
		}
		bt, err := newButton(cfg.Button, p, b.now, b.log)
		if err != nil {
			return nil, err
		}
		b.button = bt
		b.done.Add(1)
		go func() { defer b.done.Done(); bt.run(b.stop) }()
	}
	b.done.Add(1)
	go func() { defer b.done.Done(); b.blinkLoop() }()
	return b, nil
}

// LED returns the named LED, or a no-op for an LED this board lacks.
func (b *Board) LED(name string) board.LED {
	if l, ok := b.leds[name]; ok {
		return l
	}
	return board.NopLED{}
}

// Relay returns the relay, or nil if none is wired.
func (b *Board) Relay() board.Relay {
	if b.relay == nil {
		return nil
	}
	return b.relay
}

// Button returns the button, or nil if none is wired.
func (b *Board) Button() board.Button {
	if b.button == nil {
		return nil
	}
	return b.button
}

// Close stops blinking and the button reader and turns the LEDs off. The
// relay is left exactly as it is: a cut must survive a restart.
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
	var errs []error
	for _, l := range b.leds {
		if err := l.pin.Out(l.pol.level(false)); err != nil {
			errs = append(errs, fmt.Errorf("periph: led %s off: %w", l.name, err))
		}
	}
	return errors.Join(errs...)
}

type led struct {
	b       *Board
	name    string
	pin     gpio.PinOut
	pol     Polarity
	pattern board.Pattern // guarded by b.mu
	lit     bool
	written bool
}

// Set records the pattern and shows it at once; the blink goroutine keeps
// blinking patterns going.
func (l *led) Set(p board.Pattern) error {
	b := l.b
	b.mu.Lock()
	l.pattern = p
	err := l.show(b.now().Sub(b.epoch))
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return err
}

// litAt reports whether a pattern is lit at elapsed since the epoch: blink
// patterns are lit for the first half of each period.
func litAt(p board.Pattern, elapsed time.Duration) bool {
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

// untilToggle is how long after elapsed a blinking pattern next changes.
func untilToggle(p board.Pattern, elapsed time.Duration) time.Duration {
	var half time.Duration
	switch p {
	case board.SlowBlink:
		half = board.SlowPeriod / 2
	case board.FastBlink:
		half = board.FastPeriod / 2
	default:
		return 0
	}
	return half - elapsed%half
}

// show writes the level for the current phase if it changed. b.mu held.
func (l *led) show(elapsed time.Duration) error {
	lit := litAt(l.pattern, elapsed)
	if l.written && lit == l.lit {
		return nil
	}
	if err := l.pin.Out(l.pol.level(lit)); err != nil {
		l.written = false // retry next time
		return fmt.Errorf("periph: led %s: %w", l.name, err)
	}
	l.lit, l.written = lit, true
	return nil
}

// refresh brings every LED to its level at now and returns how long until
// the next toggle (0: nothing blinks).
func (b *Board) refresh(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refreshLocked(now)
}

// refreshNow reads the clock under the lock, so a refresh can never write
// levels older than ones another caller already wrote.
func (b *Board) refreshNow() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refreshLocked(b.now())
}

func (b *Board) refreshLocked(now time.Time) time.Duration {
	elapsed := now.Sub(b.epoch)
	var next time.Duration
	for _, l := range b.leds {
		if err := l.show(elapsed); err != nil {
			b.log.Error("blink", "err", err)
		}
		if d := untilToggle(l.pattern, elapsed); d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	return next
}

// blinkLoop is the board's one blink goroutine. It sleeps until the next
// toggle of any LED, and not at all while nothing blinks.
func (b *Board) blinkLoop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := b.refreshNow()
		var tc <-chan time.Time
		if next > 0 {
			t.Reset(next)
			tc = t.C
		}
		select {
		case <-b.stop:
			return
		case <-b.wake:
		case <-tc:
		}
	}
}

type relay struct {
	cfg RelayConfig
	mu  sync.Mutex
	cut bool
	set bool // Cut has been called at least once
	pin gpio.PinOut
}

func (r *relay) Cut(cut bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.pin.Out(r.cfg.Level(cut)); err != nil {
		return fmt.Errorf("periph: relay pin %s cut=%t: %w", r.cfg.Pin, cut, err)
	}
	r.cut, r.set = cut, true
	return nil
}

// IsCut reports the commanded state; before the first Cut it reports the
// relay at rest, which is what the wiring does while the pin is undriven.
func (r *relay) IsCut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.set {
		mode, _ := r.cfg.FailMode()
		return mode == FailSecure
	}
	return r.cut
}

var _ board.Board = (*Board)(nil)
