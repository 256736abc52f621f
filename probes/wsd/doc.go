// Package wsd speaks WS-Discovery (the 2005/04 draft over SOAP 1.2, as ONVIF
// uses it) in both directions: it builds and parses Probe, ProbeMatches,
// Hello and Bye; Discoverer multicasts Probes on a link and turns the
// ProbeMatches into facts; Decoder turns sniffed Hello/Bye/ProbeMatch
// datagrams into facts; Responder plays a camera's WS-Discovery target for
// camsim.
//
// Parsing matches element local names, not namespaces: devices in the field
// mix the 2005/04 and 1.1 namespaces and SOAP 1.1/1.2 envelopes, and a fact
// is worth more than a strict reading. Every parse is bounded (MaxMessage,
// element depth and counts, enforced by probes/internal/xmltree).
//
// The package reports what devices claim (facts); it must not decide what a
// device is (that is probes/classify), and it must not send to anything but
// the discovery group on the link it was given or the unicast source of a
// Probe it answers.
package wsd
