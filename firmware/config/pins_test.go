package config

import (
	"errors"
	"strings"
	"testing"
)

// Pin names and pin reuse fail `config check`, naming the field, instead
// of failing at `run` on the Pi.
func TestBoardPins(t *testing.T) {
	for _, tc := range []struct {
		yaml  string
		field string // "" = valid
		value string
		why   string
	}{
		{"board: {leds: {power: GPIO17, alert: GPIO22}, relay: {pin: GPIO5}, button: GPIO6}", "", "", ""},
		{"board: {leds: {power: GPIO0}, relay: {pin: GPIO57}}", "", "", ""},
		{"board: {leds: {power: GPIO999x}}", "board.leds.power", "GPIO999x", "not a GPIO pin name"},
		{"board: {relay: {pin: GPIO58}}", "board.relay.pin", "GPIO58", "GPIO0..GPIO57"},
		{"board: {button: gpio6}", "board.button", "gpio6", "GPIOn"},
		{"board: {button: '6'}", "board.button", "6", "GPIOn"},
		{"board: {button: GPIO06}", "board.button", "GPIO06", "GPIOn"},
		{"board: {button: P1_31}", "board.button", "P1_31", "GPIOn"},
		// the relay, an LED and the button on one pin: both later users named
		{"board: {leds: {alert: GPIO5}, relay: {pin: GPIO5}, button: GPIO5}", "board.relay.pin", "GPIO5", "already used by board.leds.alert"},
		{"board: {leds: {alert: GPIO5}, relay: {pin: GPIO5}, button: GPIO5}", "board.button", "GPIO5", "already used by board.leds.alert"},
		// two LEDs: the first by name keeps the pin
		{"board: {leds: {uplink: GPIO23, activity: GPIO23}}", "board.leds.uplink", "GPIO23", "already used by board.leds.activity"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.yaml, err)
			}
			continue
		}
		var found bool
		for _, e := range unjoin(err) {
			var fe *FieldError
			if errors.As(e, &fe) && fe.Field == tc.field && fe.Value == `"`+tc.value+`"` && strings.Contains(fe.Why, tc.why) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: error %v has no %s=%q saying %q", tc.yaml, err, tc.field, tc.value, tc.why)
		}
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
