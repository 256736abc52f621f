package mqtt

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/report/wire"
)

// Options configure a Client. Broker, ApplianceID and OutboxPath are
// required; everything else has a default.
type Options struct {
	// Broker is the broker URL: tcp://host:1883, mqtt://…, ssl://, tls://
	// or mqtts://host:8883 for TLS.
	Broker string
	// ApplianceID names the topic tree camwarden/v1/{ApplianceID}/. It must
	// not contain MQTT wildcards or '/'.
	ApplianceID string
	// ClientID defaults to "camwarden-" + ApplianceID. Two connections with
	// the same id kick each other off the broker.
	ClientID string
	Username string
	// Password is sent in CONNECT and never logged.
	Password string
	// CAFile is a PEM bundle that must have signed the broker's certificate
	// (TLS URLs only; empty means the system roots).
	CAFile string
	// CertFile and KeyFile are the client certificate for mutual TLS. Both
	// or neither.
	CertFile string
	KeyFile  string
	// OutboxPath is the bbolt file holding queued events and the session and
	// sequence counters.
	OutboxPath string
	// OutboxMaxEvents bounds the queued events; the oldest are dropped (and
	// counted) beyond it. Default 100000.
	OutboxMaxEvents int
	// OutboxMaxAge drops queued events older than this. Default 7 days.
	OutboxMaxAge time.Duration
	Logger       *slog.Logger
	// Now is the clock for payload timestamps and outbox ageing.
	Now func() time.Time

	// ConnectTimeout bounds one connection attempt (default 10s).
	ConnectTimeout time.Duration
	// KeepAlive is the MQTT keep-alive (default 30s): the broker sends the
	// offline will after 1.5× this without traffic.
	KeepAlive time.Duration
	// ReconnectMin and ReconnectMax bound the exponential reconnect backoff
	// (defaults 500ms and 60s).
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// PublishWindow is how many events may await PUBACK at once (default
	// 256). The window slides: each PUBACK frees a slot at once, and the
	// deletes are committed off the publish path, so neither a late PUBACK
	// (a broker without TCP_NODELAY delays them ~40 ms) nor an fsync stalls
	// a burst. A reconnect may resend up to this many, deduplicated by
	// msg_id.
	PublishWindow int
}

// TopicRoot is wire.TopicRoot.
const TopicRoot = wire.TopicRoot

func (o *Options) setDefaults() {
	if o.ClientID == "" {
		o.ClientID = "camwarden-" + o.ApplianceID
	}
	if o.OutboxMaxEvents <= 0 {
		o.OutboxMaxEvents = 100000
	}
	if o.OutboxMaxAge <= 0 {
		o.OutboxMaxAge = 7 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 500 * time.Millisecond
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = 60 * time.Second
		if o.ReconnectMax < o.ReconnectMin {
			o.ReconnectMax = o.ReconnectMin
		}
	}
	if o.PublishWindow <= 0 {
		o.PublishWindow = 256
	}
}

// validTopicLevel reports whether s can stand as one topic level.
func validTopicLevel(s string) bool {
	return s != "" && len(s) <= 128 && !strings.ContainsAny(s, "/+#\x00")
}

func (o *Options) validate() error {
	if o.Broker == "" {
		return errors.New("mqtt: options: Broker is required")
	}
	u, err := url.Parse(o.Broker)
	if err != nil {
		return fmt.Errorf("mqtt: options: Broker %q: %w", o.Broker, err)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return fmt.Errorf("mqtt: options: Broker %q: scheme must be tcp, mqtt, ssl, tls or mqtts", o.Broker)
	}
	if u.Host == "" {
		return fmt.Errorf("mqtt: options: Broker %q: no host", o.Broker)
	}
	if !validTopicLevel(o.ApplianceID) {
		return fmt.Errorf("mqtt: options: ApplianceID %q must be non-empty, at most 128 bytes, without / + #", o.ApplianceID)
	}
	if o.OutboxPath == "" {
		return errors.New("mqtt: options: OutboxPath is required (events and session counter are durable)")
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("mqtt: options: CertFile and KeyFile must be given together")
	}
	if !isTLS(u) && (o.CAFile != "" || o.CertFile != "") {
		return fmt.Errorf("mqtt: options: CAFile/CertFile given but Broker %q is not a TLS URL (use mqtts:// or ssl://)", o.Broker)
	}
	return nil
}

func isTLS(u *url.URL) bool { return wire.IsTLSBroker(u) }

// ErrBadCA means the configured CA file could not be used.
var ErrBadCA = wire.ErrBadCA

// TLSConfig builds the TLS configuration for a TLS broker URL from CAFile,
// CertFile and KeyFile. It returns nil for plain-TCP URLs.
func (o Options) TLSConfig() (*tls.Config, error) {
	cfg, err := wire.BrokerTLS(o.Broker, o.CAFile, o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	return cfg, nil
}
