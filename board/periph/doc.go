// Package periph drives a real appliance board through periph.io: status
// LEDs, the uplink relay and the acknowledge button on GPIO lines named as
// the host names them ("GPIO17"), which on Raspberry Pi 3/4/5 goes through
// the Linux GPIO character device. That is the only periph host driver
// linked in; a "GPIOn" name the kernel gives no line (mainline kernels call
// BCM GPIO2 "SDA1") is line n of the chip carrying the Pi's header.
//
// Wiring is configuration, not code: each pin has a polarity (active_high or
// active_low) and the relay also says which contact the uplink runs through
// (normally_open or normally_closed). From that the package derives the pin
// level for "cut" and "restored" and the relay's fail mode, documented in
// board/LEGEND.md. Blinking is done by one goroutine per board so the LEDs
// stay in phase; the button is debounced (edge detection plus a settle time).
//
// This package must not decide anything: it switches what it is told and
// reports presses. It never changes the relay on its own, including at
// start-up and Close, so a latched cut is not lifted by a restart.
package periph
