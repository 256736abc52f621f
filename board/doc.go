// Package board defines the appliance's physical outputs and inputs: status
// LEDs that show a Pattern, the uplink Relay, and the acknowledge Button.
// Consumers take these small interfaces; board/periph drives real GPIO,
// board/boardtest records every change for tests, and board/console draws the
// state in a terminal for the demo and the lab.
//
// This package must not know about policy or verdicts: it only shows and
// switches what it is told.
package board
