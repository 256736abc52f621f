// Package onvif is camwarden's own ONVIF device-service client, prober and
// (for camsim) responder, on encoding/xml and net/http only.
//
// The client measures the camera's clock with the unauthenticated
// GetSystemDateAndTime, then asks GetDeviceInformation, GetScopes,
// GetNetworkInterfaces and GetServices, authenticating with a
// WS-UsernameToken digest whose Created is in the camera's time, or with
// HTTP Digest when the device challenges for it. Responses are decoded by
// element local name (probes/internal/xmltree, capped in size, depth and
// element count), so namespace variations between firmwares do not
// matter; SOAP faults become typed errors (ErrNotAuthorized,
// ErrActionNotSupported, *Fault).
//
// What it must not do: log or return credentials (not even inside errors);
// follow redirects or XAddrs to any host but the target's own address; read
// unbounded responses (every call has a timeout and a size cap); decide
// what a device is (it emits facts; probes/classify decides). Each
// credential is tried at most once per authentication method (HTTP Digest
// when challenged, WS-UsernameToken) per device and probe run, and a device
// that refused them all is not asked again with credentials, because
// cameras lock accounts after a few failures.
//
// github.com/use-go/onvif is deliberately not used: it is only served at
// v0.0.9, swallows SOAP faults, keeps one of several services and cannot
// read the camera clock.
package onvif
