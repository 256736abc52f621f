// Package camsim emulates the devices found on a camera VLAN, as test doubles
// for the probes and as the population of the lab used by `make demo` and the
// integration tests.
//
// A Profile describes one kind of device (maker, brand, model, what it answers
// and how); Run starts every responder the profile names on a Host. Each
// protocol package owns its responder (wire format both ways); the files
// serve_*.go here only adapt a Profile to those responders.
//
// camsim is never linked into the appliance binary: it answers probes and
// would make the appliance itself look like a camera.
package camsim
