// Package xmltree reads untrusted SOAP/XML from devices (ONVIF responses and
// requests, WS-Discovery datagrams) into a small element tree that callers
// query by local name, under hard caps on input size, nesting depth, element
// count and text kept per element.
//
// Lookups ignore namespaces on purpose: firmwares in the field mix SOAP 1.1
// and 1.2 envelopes, WS-Discovery 2005/04 and 1.1, and gSOAP, Hikvision and
// Dahua prefix habits, and a field read by local name is worth more than a
// strict reading that fails. Namespace declarations are still recorded so a
// caller can resolve QName text (WS-Discovery Types) with Node.Resolve and
// Node.QName.
//
// Every caller states its own Limits (zero fields take the Default values;
// no cap can be switched off), and Parse refuses input over MaxBytes before
// decoding anything, so one message costs at most a known amount of memory
// and time whatever a device sends.
//
// What it must not do: validate or interpret protocol semantics (that is the
// caller's job: probes/onvif, probes/wsd), resolve external entities or fetch
// anything (encoding/xml does neither), transcode declared charsets (bytes are
// read as they are; values are cleaned into facts later), keep attributes other
// than namespace declarations, or be used to write XML.
package xmltree
