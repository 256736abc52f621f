// Package board defines the appliance's physical outputs and inputs: status
// LEDs that show a Pattern, the uplink Relay, and the acknowledge Button.
// Consumers take these small interfaces; board/periph drives real GPIO,
// board/boardtest records every change for tests, board/console draws the
// state in a terminal for the demo and the lab, and board/labrelay is a relay
// that downs a link inside a lab network namespace. LEGEND.md is the legend
// installers read: what each LED pattern, button gesture and relay wiring
// means. SelfTest and Sweep exercise any Board; GestureOf reads presses.
//
// This package must not know about policy or verdicts: it only shows and
// switches what it is told.
package board
