// Package probetest holds the test scaffolding the protocol packages share:
// reading golden captures from testdata/, running a passive Decoder over one
// captured frame, and flattening an Observation's facts for comparison.
//
// It is for tests only and must stay scaffolding: no protocol knowledge and
// no assertions of its own beyond the contract every active prober keeps
// (Probe), so a test never ends up checking this package instead of the
// decoder or prober under test.
package probetest
