// Package httpprobe reads what a device's web server says about its maker:
// the Server header, the WWW-Authenticate scheme and realm, the <title> of
// the front page, whether header names arrive upper-case (Dahua), P3P, the
// status of a few vendor-specific paths, ISAPI XML namespaces and the TLS
// certificate subject and issuer. It also holds the responder camsim uses to
// emulate those web servers, because the wire format belongs in one place.
//
// The prober only reads: it never sends credentials, never follows a redirect
// to another host and never trusts a certificate (it inspects it). Every read
// is bounded in size and time because the other end is an untrusted device.
// It emits facts; deciding who made a device is probes/classify's job.
package httpprobe
