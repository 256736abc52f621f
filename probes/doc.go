// Package probes defines what every identification probe produces and consumes:
// Observations made of Facts, the Sink they flow into, passive Decoders fed
// captured Frames, active Probers aimed at one host, and Discoverers that ask a
// whole link at once.
//
// Probes extract facts and never decide who made a device; that is the job of
// probes/classify alone. A Fact key is "<probe>.<field>" in lower case
// (e.g. "sadp.model", "http.server"); values are the device's own words,
// trimmed and bounded by MaxFactValue.
//
// Everything a probe reads comes from untrusted devices: parsers bound their
// input, never panic on it, and return errors that name the probe.
package probes
