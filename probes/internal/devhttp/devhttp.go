// Package devhttp builds the HTTP client the probers that log into devices
// (onvif, nvr) share, so what makes it safe to point at a hostile camera is
// decided once.
//
// Do reads every answer under a byte bound; how much is enough, and
// whether an oversized error page is refused or cut, stays the protocol's
// call.
package devhttp

import (
	"crypto/tls"
	"fmt"
	"io"
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

// Do sends req with c and reads at most maxBody bytes of the answer, which
// it closes. over says the device had more to send than that; body is then
// the first maxBody bytes. resp's body is already consumed: use body.
func Do(c *http.Client, req *http.Request, maxBody int64) (resp *http.Response, body []byte, over bool, err error) {
	resp, err = c.Do(req)
	if err != nil {
		return nil, nil, false, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, false, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return resp, body[:maxBody], true, nil
	}
	return resp, body, false, nil
}
