package periph

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/camwarden/camwarden/board"
)

// recPin records every level written, with the time, on top of gpiotest.
type recPin struct {
	*gpiotest.Pin
	mu     sync.Mutex
	writes []write
}

type write struct {
	at time.Time
	l  gpio.Level
}

func (p *recPin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.writes = append(p.writes, write{time.Now(), l})
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *recPin) Writes() []write {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]write(nil), p.writes...)
}

type pins map[string]gpio.PinIO

func (ps pins) lookup(n string) gpio.PinIO {
	if p, ok := ps[n]; ok {
		return p
	}
	return nil
}

func newPins(names ...string) (pins, map[string]*recPin) {
	ps, rs := pins{}, map[string]*recPin{}
	for i, n := range names {
		r := &recPin{Pin: &gpiotest.Pin{N: n, Num: i}}
		ps[n], rs[n] = r, r
	}
	return ps, rs
}

func level(p *recPin) gpio.Level { return p.Read() }

func TestRelayLevels(t *testing.T) {
	for _, tc := range []struct {
		pol      Polarity
		contacts Contacts
		mode     FailMode
		cutLevel gpio.Level
	}{
		// NO contacts: connected only while energised, so cut = coil off.
		{ActiveHigh, NormallyOpen, FailSecure, gpio.Low},
		{ActiveLow, NormallyOpen, FailSecure, gpio.High},
		// NC contacts: energise to cut.
		{ActiveHigh, NormallyClosed, FailOpen, gpio.High},
		{ActiveLow, NormallyClosed, FailOpen, gpio.Low},
		{"", NormallyClosed, FailOpen, gpio.High}, // default active_high
	} {
		rc := RelayConfig{Pin: "GPIO27", Polarity: tc.pol, Contacts: tc.contacts}
		mode, err := rc.FailMode()
		if err != nil || mode != tc.mode {
			t.Errorf("%s/%s: fail mode %v, %v; want %v", tc.pol, tc.contacts, mode, err, tc.mode)
		}
		if rc.Level(true) != tc.cutLevel || rc.Level(false) != !tc.cutLevel {
			t.Errorf("%s/%s: cut level %v restore level %v, want cut %v", tc.pol, tc.contacts,
				rc.Level(true), rc.Level(false), tc.cutLevel)
		}

		ps, rs := newPins("GPIO27")
		rs["GPIO27"].L = !rc.Level(false) // leftover level from before a restart
		b, err := New(Config{Relay: rc}, ps.lookup, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs["GPIO27"].Writes()) != 0 {
			t.Errorf("%s/%s: New drove the relay pin", tc.pol, tc.contacts)
		}
		if got := b.Relay().IsCut(); got != (tc.mode == FailSecure) {
			t.Errorf("%s/%s: IsCut before first Cut = %v", tc.pol, tc.contacts, got)
		}
		for _, cut := range []bool{true, false, true} {
			if err := b.Relay().Cut(cut); err != nil {
				t.Fatal(err)
			}
			want := tc.cutLevel
			if !cut {
				want = !want
			}
			if got := level(rs["GPIO27"]); got != want || b.Relay().IsCut() != cut {
				t.Errorf("%s/%s: Cut(%v) pin %v want %v", tc.pol, tc.contacts, cut, got, want)
			}
		}
		before := level(rs["GPIO27"])
		b.Close()
		if level(rs["GPIO27"]) != before {
			t.Errorf("Close changed the relay")
		}
	}
}

func TestConfigErrorsNameThePin(t *testing.T) {
	ps, _ := newPins("GPIO17", "GPIO27")
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{LEDs: map[string]PinConfig{"alert": {Pin: "GPIO99"}}}, "GPIO99"},
		{Config{LEDs: map[string]PinConfig{"disco": {Pin: "GPIO17"}}}, "leds.disco"},
		{Config{LEDs: map[string]PinConfig{"alert": {Pin: "GPIO17", Polarity: "upside_down"}}}, "leds.alert.polarity"},
		{Config{Relay: RelayConfig{Pin: "GPIO27"}}, "relay.contacts"},
		{Config{Relay: RelayConfig{Pin: "GPIO27", Contacts: NormallyOpen, Polarity: "x"}}, "relay.polarity"},
		{Config{Relay: RelayConfig{Pin: "GPIO5", Contacts: NormallyOpen}}, "pin GPIO5 not found"},
		{Config{LEDs: map[string]PinConfig{"alert": {Pin: "GPIO17"}},
			Relay: RelayConfig{Pin: "GPIO17", Contacts: NormallyOpen}}, "pin GPIO17 already used by leds.alert"},
		{Config{Button: ButtonConfig{Pin: "GPIO22"}}, "button: pin GPIO22"},
		{Config{Button: ButtonConfig{Pin: "GPIO17", Debounce: 5 * time.Second}}, "button.debounce"},
	} {
		_, err := New(tc.cfg, ps.lookup, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want mention of %q", tc.cfg, err, tc.want)
		}
	}
}

func TestLEDPolarityAndMissingLED(t *testing.T) {
	ps, rs := newPins("GPIO5", "GPIO6")
	b, err := New(Config{LEDs: map[string]PinConfig{
		board.LEDPower: {Pin: "GPIO5"},
		board.LEDAlert: {Pin: "GPIO6", Polarity: ActiveLow},
	}}, ps.lookup, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if level(rs["GPIO5"]) != gpio.Low || level(rs["GPIO6"]) != gpio.High {
		t.Fatal("LEDs not off at start")
	}
	b.LED(board.LEDPower).Set(board.On)
	b.LED(board.LEDAlert).Set(board.On)
	if level(rs["GPIO5"]) != gpio.High || level(rs["GPIO6"]) != gpio.Low {
		t.Fatal("LEDs not lit per polarity")
	}
	if err := b.LED(board.LEDBroker).Set(board.On); err != nil {
		t.Fatal("LED not wired should be a no-op")
	}
	if b.Relay() != nil || b.Button() != nil {
		t.Fatal("relay/button not configured but not nil")
	}
	b.Close()
	if level(rs["GPIO5"]) != gpio.Low || level(rs["GPIO6"]) != gpio.High {
		t.Fatal("Close did not turn LEDs off")
	}
}

// Blink phases with an injected clock: refresh is what the blink goroutine
// runs, so driving it with chosen instants checks the timing exactly.
func TestBlinkPhasesInjectedClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ps, rs := newPins("S", "F")
	b, err := New(Config{LEDs: map[string]PinConfig{board.LEDAlert: {Pin: "S"}, board.LEDUplink: {Pin: "F"}}},
		ps.lookup, Options{Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.LED(board.LEDAlert).Set(board.SlowBlink)
	b.LED(board.LEDUplink).Set(board.FastBlink)
	epoch := clk()
	for _, tc := range []struct {
		at         time.Duration
		slow, fast gpio.Level
		next       time.Duration
	}{
		{0, gpio.High, gpio.High, 125 * time.Millisecond},
		{124 * time.Millisecond, gpio.High, gpio.High, time.Millisecond},
		{125 * time.Millisecond, gpio.High, gpio.Low, 125 * time.Millisecond},
		{250 * time.Millisecond, gpio.High, gpio.High, 125 * time.Millisecond},
		{499 * time.Millisecond, gpio.High, gpio.Low, time.Millisecond},
		{500 * time.Millisecond, gpio.Low, gpio.High, 125 * time.Millisecond},
		{999 * time.Millisecond, gpio.Low, gpio.Low, time.Millisecond},
		{1000 * time.Millisecond, gpio.High, gpio.High, 125 * time.Millisecond},
	} {
		// Move the injected clock too: the blink goroutine reads it and
		// must agree with what this test drives.
		mu.Lock()
		now = epoch.Add(tc.at)
		mu.Unlock()
		next := b.refresh(clk())
		if level(rs["S"]) != tc.slow || level(rs["F"]) != tc.fast || next != tc.next {
			t.Errorf("at %v: slow %v fast %v next %v; want %v %v %v", tc.at,
				level(rs["S"]), level(rs["F"]), next, tc.slow, tc.fast, tc.next)
		}
	}
	b.LED(board.LEDAlert).Set(board.Off)
	b.LED(board.LEDUplink).Set(board.On)
	mu.Lock()
	now = epoch.Add(3 * time.Second)
	mu.Unlock()
	if next := b.refresh(clk()); next != 0 {
		t.Errorf("nothing blinks but next toggle in %v", next)
	}
}

// The real goroutine on the real clock: a fast blink toggles every 125 ms.
func TestBlinkGoroutineRealClock(t *testing.T) {
	ps, rs := newPins("F")
	b, err := New(Config{LEDs: map[string]PinConfig{board.LEDAlert: {Pin: "F"}}}, ps.lookup, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.LED(board.LEDAlert).Set(board.FastBlink)
	time.Sleep(700 * time.Millisecond)
	b.Close()
	w := rs["F"].Writes()[1:] // skip the initial off from New
	var toggles []time.Time
	for i := 1; i < len(w); i++ {
		if w[i].l != w[i-1].l {
			toggles = append(toggles, w[i].at)
		}
	}
	// Individual toggles jitter on a loaded machine; the loop re-reads the
	// clock each time, so the count and the mean interval still show the
	// 125 ms half-period (a wrong rate would halve or double them).
	if len(toggles) < 4 || len(toggles) > 7 {
		t.Fatalf("%d toggles in 700 ms, want about 5", len(toggles))
	}
	mean := toggles[len(toggles)-1].Sub(toggles[0]) / time.Duration(len(toggles)-1)
	if mean < 90*time.Millisecond || mean > 180*time.Millisecond {
		t.Errorf("mean toggle interval %v, want ~125ms", mean)
	}
}

func pressesFor(t *testing.T, b *Board, d time.Duration) []board.Press {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var got []board.Press
	for p := range b.Button().Presses(ctx) {
		got = append(got, p)
	}
	return got
}

func TestButtonDebounceEdges(t *testing.T) {
	p := &gpiotest.Pin{N: "GPIO22", EdgesChan: make(chan gpio.Level, 64)}
	b, err := New(Config{Button: ButtonConfig{Pin: "GPIO22", Debounce: 40 * time.Millisecond}},
		pins{"GPIO22": p}.lookup, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if p.P != gpio.PullUp {
		t.Fatalf("active_low button should use the pull-up, got %v", p.P)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		// A glitch: down and straight back up, far shorter than the
		// debounce time: not a press.
		p.EdgesChan <- gpio.Low
		p.EdgesChan <- gpio.High
		time.Sleep(100 * time.Millisecond)
		// A bouncy press held for ~200 ms with a bouncy release.
		for _, l := range []gpio.Level{gpio.Low, gpio.High, gpio.Low, gpio.High, gpio.Low} {
			p.EdgesChan <- l
		}
		time.Sleep(200 * time.Millisecond)
		for _, l := range []gpio.Level{gpio.High, gpio.Low, gpio.High} {
			p.EdgesChan <- l
		}
	}()
	got := pressesFor(t, b, 700*time.Millisecond)
	if len(got) != 1 {
		t.Fatalf("presses %+v, want exactly one", got)
	}
	if h := got[0].Held; h < 180*time.Millisecond || h > 400*time.Millisecond {
		t.Errorf("held %v, want ~200ms", h)
	}
	if !board.IsAck(got[0]) {
		t.Error("short press not an acknowledge")
	}
}

func TestButtonPollingFallback(t *testing.T) {
	// gpiotest refuses edge detection without EdgesChan: the driver must
	// fall back to polling.
	p := &gpiotest.Pin{N: "GPIO23"}
	b, err := New(Config{Button: ButtonConfig{Pin: "GPIO23", Polarity: ActiveHigh, Debounce: 10 * time.Millisecond}},
		pins{"GPIO23": p}.lookup, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if p.P != gpio.PullDown {
		t.Fatalf("active_high button should use the pull-down, got %v", p.P)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		p.Out(gpio.High)
		time.Sleep(100 * time.Millisecond)
		p.Out(gpio.Low)
	}()
	got := pressesFor(t, b, 300*time.Millisecond)
	lo, hi := 80*time.Millisecond, 160*time.Millisecond
	if os.Getenv("CAMWARDEN_EMULATED") != "" {
		// Under qemu the polling goroutine can be scheduled tens of
		// milliseconds late; only the count and a sane range are checked.
		lo, hi = 10*time.Millisecond, 250*time.Millisecond
	}
	if len(got) != 1 || got[0].Held < lo || got[0].Held > hi {
		t.Fatalf("presses %+v, want one of ~100ms", got)
	}
}

func TestOpenOnHostWithoutPin(t *testing.T) {
	// On a machine without that GPIO (CI, x86) Open must fail naming the pin,
	// not panic or pretend.
	_, err := Open(Config{LEDs: map[string]PinConfig{board.LEDPower: {Pin: "GPIO_NOPE_17"}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "GPIO_NOPE_17") {
		t.Fatalf("Open = %v", err)
	}
}

// TestSocLine: a "GPIOn" name that no chip uses is line n of the chip that
// carries the Pi's header, and of no other chip.
func TestSocLine(t *testing.T) {
	pi4 := []string{"pinctrl-bcm2711", "raspberrypi-exp-gpio"}
	pi5 := []string{"pinctrl-bcm2712@7d504100", "pinctrl-bcm2712@7d517c00", "pinctrl-rp1", "rp1-firmware-gpio"}
	vm := []string{"9030000.pl061", "gpio-sim.0-node0"}
	for _, c := range []struct {
		name   string
		labels []string
		chip   int
		line   int
		ok     bool
	}{
		{"GPIO2", pi4, 0, 2, true},
		{"GPIO57", pi4, 0, 57, true},
		{"GPIO14", pi5, 2, 14, true},
		{"GPIO0", []string{"pinctrl-bcm2835"}, 0, 0, true},
		{"GPIO17", vm, 0, 0, false}, // the VM names its lines; nothing to guess
		{"GPIO17", nil, 0, 0, false},
		{"GPIO017", pi4, 0, 0, false},
		{"GPIO-1", pi4, 0, 0, false},
		{"GPIO", pi4, 0, 0, false},
		{"SDA1", pi4, 0, 0, false},
		{"gpio17", pi4, 0, 0, false},
	} {
		chip, line, ok := socLine(c.name, c.labels)
		if ok != c.ok || (ok && (chip != c.chip || line != c.line)) {
			t.Errorf("socLine(%q, %v) = %d, %d, %v; want %d, %d, %v", c.name, c.labels, chip, line, ok, c.chip, c.line, c.ok)
		}
	}
}
