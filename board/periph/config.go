package periph

import (
	"fmt"
	"slices"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/camwarden/camwarden/board"
)

// Polarity says which pin level means "active" (LED lit, relay coil
// energised, button pressed).
type Polarity string

const (
	ActiveHigh Polarity = "active_high"
	ActiveLow  Polarity = "active_low"
)

// Contacts names the relay contact the uplink cable runs through.
type Contacts string

const (
	// NormallyOpen (NO): the contact is closed, and the uplink connected,
	// only while the coil is energised.
	NormallyOpen Contacts = "normally_open"
	// NormallyClosed (NC): the contact is closed while the coil is at rest.
	NormallyClosed Contacts = "normally_closed"
)

// FailMode is what happens to the uplink when the appliance is unpowered or
// dead and the relay coil is therefore at rest.
type FailMode string

const (
	// FailSecure: the uplink is cut while the appliance is down (NO
	// contacts). The camera VLAN is never connected unless camwarden runs
	// and says so; the price is that an appliance failure takes the
	// cameras off the core network.
	FailSecure FailMode = "fail_secure"
	// FailOpen: the uplink stays connected while the appliance is down (NC
	// contacts). A dead appliance never disrupts the cameras; the price is
	// that it enforces nothing while dead.
	FailOpen FailMode = "fail_open"
)

// PinConfig is one output pin.
type PinConfig struct {
	Pin      string   `yaml:"pin" json:"pin"`           // host pin name, e.g. "GPIO17"
	Polarity Polarity `yaml:"polarity" json:"polarity"` // default active_high
}

// RelayConfig is the relay's wiring.
type RelayConfig struct {
	Pin      string   `yaml:"pin" json:"pin"`
	Polarity Polarity `yaml:"polarity" json:"polarity"` // default active_high; many opto-isolated modules are active_low
	Contacts Contacts `yaml:"contacts" json:"contacts"` // required: the fail mode depends on it
}

// ButtonConfig is the acknowledge button's wiring.
type ButtonConfig struct {
	Pin string `yaml:"pin" json:"pin"`
	// Polarity defaults to active_low: a button to ground with the internal
	// pull-up, the usual Raspberry Pi wiring. active_high uses the pull-down.
	Polarity Polarity `yaml:"polarity" json:"polarity"`
	// Debounce is how long the line must be quiet before a level counts;
	// default 30 ms.
	Debounce time.Duration `yaml:"debounce" json:"debounce"`
}

// DefaultDebounce suits ordinary tactile switches, which bounce for a few
// milliseconds, while staying far below a human tap (~100 ms).
const DefaultDebounce = 30 * time.Millisecond

// Config is the board's wiring. An empty Pin leaves that part out: LEDs not
// listed are no-ops, no relay pin means Relay() returns nil, no button pin
// means Button() returns nil.
type Config struct {
	LEDs   map[string]PinConfig `yaml:"leds" json:"leds"` // keyed by board.LED* names
	Relay  RelayConfig          `yaml:"relay" json:"relay"`
	Button ButtonConfig         `yaml:"button" json:"button"`
}

func parsePolarity(p Polarity, def Polarity, field string) (Polarity, error) {
	switch p {
	case "":
		return def, nil
	case ActiveHigh, ActiveLow:
		return p, nil
	}
	return "", fmt.Errorf("periph: %s: polarity %q (want active_high or active_low)", field, p)
}

// level returns the pin level that means active for p.
func (p Polarity) level(active bool) gpio.Level {
	if p == ActiveLow {
		return gpio.Level(!active)
	}
	return gpio.Level(active)
}

// FailMode derives the fail mode from the contacts: with the appliance
// unpowered the coil is at rest, so NO contacts are open (uplink cut) and NC
// contacts closed (uplink connected). This assumes the relay module loses
// power with the appliance (powered from the Pi's 5 V), see LEGEND.md.
func (r RelayConfig) FailMode() (FailMode, error) {
	switch r.Contacts {
	case NormallyOpen:
		return FailSecure, nil
	case NormallyClosed:
		return FailOpen, nil
	}
	return "", fmt.Errorf("periph: relay.contacts: %q (want normally_open or normally_closed)", r.Contacts)
}

// energised reports whether the coil must be energised for the uplink state.
func (r RelayConfig) energised(cut bool) bool {
	if r.Contacts == NormallyOpen {
		return !cut // NO: connected only while energised
	}
	return cut // NC: energise to break the contact
}

// Level is the pin level that puts the uplink in the given state.
func (r RelayConfig) Level(cut bool) gpio.Level {
	pol, _ := parsePolarity(r.Polarity, ActiveHigh, "relay.polarity")
	return pol.level(r.energised(cut))
}

// Validate checks names, polarities and contacts, and that no pin is used
// twice. Errors name the field and the pin.
func (c Config) Validate() error {
	used := map[string]string{}
	claim := func(pin, what string) error {
		if prev, ok := used[pin]; ok {
			return fmt.Errorf("periph: %s: pin %s already used by %s", what, pin, prev)
		}
		used[pin] = what
		return nil
	}
	names := make([]string, 0, len(c.LEDs))
	for n := range c.LEDs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		lc := c.LEDs[n]
		field := "leds." + n
		if !slices.Contains(board.LEDNames, n) {
			return fmt.Errorf("periph: %s: unknown LED (want one of %v)", field, board.LEDNames)
		}
		if lc.Pin == "" {
			continue
		}
		if _, err := parsePolarity(lc.Polarity, ActiveHigh, field+".polarity"); err != nil {
			return err
		}
		if err := claim(lc.Pin, field); err != nil {
			return err
		}
	}
	if c.Relay.Pin != "" {
		if _, err := parsePolarity(c.Relay.Polarity, ActiveHigh, "relay.polarity"); err != nil {
			return err
		}
		if _, err := c.Relay.FailMode(); err != nil {
			return err
		}
		if err := claim(c.Relay.Pin, "relay"); err != nil {
			return err
		}
	}
	if c.Button.Pin != "" {
		if _, err := parsePolarity(c.Button.Polarity, ActiveLow, "button.polarity"); err != nil {
			return err
		}
		if c.Button.Debounce < 0 || c.Button.Debounce > time.Second {
			return fmt.Errorf("periph: button.debounce: %v out of range (0..1s)", c.Button.Debounce)
		}
		if err := claim(c.Button.Pin, "button"); err != nil {
			return err
		}
	}
	return nil
}
