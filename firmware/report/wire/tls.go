package wire

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// IsTLSBroker reports whether a broker URL asks for TLS (ssl://, tls://,
// mqtts://).
func IsTLSBroker(u *url.URL) bool {
	switch u.Scheme {
	case "ssl", "tls", "mqtts":
		return true
	}
	return false
}

// ErrBadCA means the configured CA file could not be used.
var ErrBadCA = errors.New("unusable CA file")

// BrokerTLS builds the TLS configuration for reaching the broker at the URL
// broker with an optional CA file and client certificate, the same way for
// the appliance and for central tools. It returns nil for plain-TCP URLs.
// Errors name the file; keys are never printed.
func BrokerTLS(broker, caFile, certFile, keyFile string) (*tls.Config, error) {
	u, err := url.Parse(broker)
	if err != nil {
		return nil, fmt.Errorf("broker %q: %w", broker, err)
	}
	if !IsTLSBroker(u) {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: %w: %w", caFile, ErrBadCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: %w: no PEM certificate in it", caFile, ErrBadCA)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s / key %s: %w", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
