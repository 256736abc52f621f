// Package boardtest is an exported fake board.Board for tests: it records
// every LED and relay change with a timestamp, lets a test press the button,
// and can be told to fail the relay. It is safe for concurrent use.
//
// It must stay a pure recorder: no timing, no blinking, no logic of its own
// that a test could end up testing instead of the code under test.
package boardtest
