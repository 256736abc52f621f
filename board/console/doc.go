// Package console is a board.Board drawn on a terminal, for `make demo`, the
// lab and logs: on a TTY the LEDs and the relay are one status line redrawn
// in place (blinking included); otherwise every change is printed as one
// line. Optionally the relay is a real one (board/labrelay in the lab) and
// the button is read from lines of input.
//
// It must only render: it keeps no policy and makes no decisions.
package console
