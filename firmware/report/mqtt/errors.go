package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Connection failures that retrying cannot fix; WaitConnected returns them
// at once. Test with errors.Is.
var (
	// ErrLoginRefused: the broker refused Username/Password (or the client
	// certificate identity) with CONNACK 4 or 5.
	ErrLoginRefused = errors.New("broker refused the login")
	// ErrBrokerUntrusted: the broker's certificate is not signed by CAFile,
	// or does not name the host in the Broker URL.
	ErrBrokerUntrusted = errors.New("broker certificate not trusted")
	// ErrClientCertRefused: the broker rejected (or required and did not
	// get) our client certificate.
	ErrClientCertRefused = errors.New("broker refused the client certificate")
)

// ErrNotConnected is returned by Telemetry while the link is down
// (telemetry is not queued).
var ErrNotConnected = errors.New("mqtt: not connected to the broker")

func permanent(err error) bool {
	return errors.Is(err, ErrLoginRefused) || errors.Is(err, ErrBrokerUntrusted) ||
		errors.Is(err, ErrClientCertRefused) || errors.Is(err, ErrBadCA)
}

// classify names what failed in a connection attempt. The password is never
// part of the message.
func (c *Client) classify(ctx context.Context, err error) error {
	o := &c.opts
	if errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) || errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		who := fmt.Sprintf("user %q", o.Username)
		if o.Username == "" {
			who = "anonymous (no Username set)"
		}
		return fmt.Errorf("mqtt: connect %s: %w as %s, client id %q: %w", o.Broker, ErrLoginRefused, who, o.ClientID, err)
	}
	if e := tlsCause(err, o); e != nil {
		return e
	}
	if c.tls != nil && errors.Is(err, packets.ErrorNetworkError) {
		// With TLS 1.3 the broker's verdict on our certificate arrives after
		// the client's handshake completes, as an alert on the first read:
		// paho reports only "network error". A bare handshake plus one read
		// recovers the alert.
		if e := tlsCause(c.diagnoseTLS(ctx), o); e != nil {
			return e
		}
	}
	return fmt.Errorf("mqtt: connect %s: %w", o.Broker, err)
}

func tlsCause(err error, o *Options) error {
	if err == nil {
		return nil
	}
	ca := o.CAFile
	if ca == "" {
		ca = "the system roots"
	}
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return fmt.Errorf("mqtt: connect %s: %w: not signed by a CA in %s: %w", o.Broker, ErrBrokerUntrusted, ca, err)
	case errors.As(err, &he):
		return fmt.Errorf("mqtt: connect %s: %w: wrong host name: %w", o.Broker, ErrBrokerUntrusted, err)
	case errors.As(err, &ci):
		return fmt.Errorf("mqtt: connect %s: %w: %w", o.Broker, ErrBrokerUntrusted, err)
	}
	if msg := err.Error(); strings.Contains(msg, "remote error: tls:") {
		cert := "no client certificate configured (CertFile/KeyFile empty)"
		if o.CertFile != "" {
			cert = "CertFile " + o.CertFile
		}
		return fmt.Errorf("mqtt: connect %s: %w (%s): %w", o.Broker, ErrClientCertRefused, cert, err)
	}
	return nil
}

func (c *Client) diagnoseTLS(ctx context.Context) error {
	u, err := url.Parse(c.opts.Broker)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "8883")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: c.tls.Clone()}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	if err != nil && strings.Contains(err.Error(), "remote error") {
		return err
	}
	return nil
}
