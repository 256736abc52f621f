// Package devhttp builds the HTTP client the probers that log into devices
// (onvif, nvr) share, so what makes it safe to point at a hostile camera is
// decided once.
//
// Each caller still bounds the bodies it reads itself: how much is enough,
// and whether an oversized error page is refused or cut, is the protocol's
// call.
package devhttp

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// Bounds every client has.
const (
	DialTimeout      = 3 * time.Second
	HandshakeTimeout = 3 * time.Second
	MaxHeaderBytes   = 16 << 10
	IdleTimeout      = 10 * time.Second
)

// NewClient returns a client that never uses the environment's proxy (the
// camera VLAN is reached directly, and a proxy would carry credentials
// elsewhere), never follows a redirect (a device must not send us to
// another host), caps response headers at MaxHeaderBytes and waits at most
// headerTimeout for them, and does not verify certificates (devices use
// self-signed ones; we identify them, we do not trust what they say).
// idlePerHost is how many kept-alive connections one device may hold.
func NewClient(headerTimeout time.Duration, idlePerHost int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            (&net.Dialer{Timeout: DialTimeout}).DialContext,
			TLSHandshakeTimeout:    HandshakeTimeout,
			ResponseHeaderTimeout:  headerTimeout,
			MaxResponseHeaderBytes: MaxHeaderBytes,
			MaxIdleConnsPerHost:    idlePerHost,
			IdleConnTimeout:        IdleTimeout,
			TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // identification only
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
