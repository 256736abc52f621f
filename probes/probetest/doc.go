// Package probetest holds the test scaffolding the protocol packages share:
// reading golden captures from testdata/, running a passive Decoder over one
// captured frame, and flattening an Observation's facts for comparison.
//
// It is for tests only and must stay scaffolding: no protocol knowledge and
// no assertions of its own, so a test never ends up checking this package
// instead of the decoder under test.
package probetest
