package sadp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// Defaults for the active probes.
const (
	DefaultTimeout  = 3 * time.Second
	DefaultSends    = 2
	DefaultInterval = 500 * time.Millisecond
)

var defaults = udpdisc.Timing{Timeout: DefaultTimeout, Sends: DefaultSends, Interval: DefaultInterval}

// Discoverer sends SADP inquiries to the group on a Link and emits one
// observation per device that answers. The zero value is ready to use.
type Discoverer struct {
	Timeout  time.Duration // whole run; default DefaultTimeout (ctx may end it sooner)
	Sends    int           // inquiries sent, Interval apart; default 2
	Interval time.Duration // default DefaultInterval
	Port     int           // default 37020
	Group    net.IP        // default 239.255.255.250
	// NoGroupListen skips listening on the group port. Cameras send their
	// ProbeMatch to the group, so without that listener only devices that
	// answer the sender's port directly are seen.
	NoGroupListen bool
	Log           *slog.Logger
	NewUUID       func() string // default NewUUID
}

// Name implements probes.Discoverer.
func (*Discoverer) Name() string { return "sadp" }

// Discover implements probes.Discoverer.
func (d *Discoverer) Discover(ctx context.Context, l probes.Link, emit probes.Sink) error {
	port, group := d.Port, d.Group
	if port == 0 {
		port = Port
	}
	if group == nil {
		group = Group
	}
	newUUID := d.NewUUID
	if newUUID == nil {
		newUUID = NewUUID
	}
	x := exchange(newUUID(), udpdisc.Timing{Timeout: d.Timeout, Sends: d.Sends, Interval: d.Interval}, d.Log)
	var listen func() (net.PacketConn, error)
	if !d.NoGroupListen {
		listen = func() (net.PacketConn, error) { return ListenGroup(l.Iface, group, port) }
	}
	return x.Discover(ctx, l, []net.Addr{&net.UDPAddr{IP: group, Port: port}}, listen, emit)
}

// Prober sends one host a unicast SADP inquiry. The zero value is ready.
type Prober struct {
	Timeout  time.Duration // default DefaultTimeout
	Sends    int           // default 2
	Interval time.Duration // default DefaultInterval
	Port     int           // destination port; default 37020
	Log      *slog.Logger
}

// Name implements probes.Prober.
func (*Prober) Name() string { return "sadp" }

// ErrNoReply is returned by Prober.Probe when the host did not answer.
var ErrNoReply = errors.New("sadp: no reply")

// Probe implements probes.Prober. Replies are accepted from any source port
// of the target's address, since devices answer from 37020 whatever port
// asked.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	port := p.Port
	if port == 0 {
		port = Port
	}
	return exchange(NewUUID(), udpdisc.Timing{Timeout: p.Timeout, Sends: p.Sends, Interval: p.Interval}, p.Log).Probe(ctx, t, port, emit)
}

// exchange is one SADP run: the inquiry carries uuid, and only replies
// echoing it (or carrying none) are answers to it.
func exchange(uuid string, t udpdisc.Timing, log *slog.Logger) *udpdisc.Exchange {
	return &udpdisc.Exchange{
		Name:    "sadp",
		What:    "inquiry",
		Request: BuildInquiry(uuid),
		IsReply: func(b []byte) bool { return Kind(b) == "reply" },
		Parse: func(b []byte) (udpdisc.Answer, error) {
			r, err := ParseReply(b)
			if err != nil {
				return udpdisc.Answer{}, err
			}
			// A reply to someone else's inquiry is still true, but the
			// decoder already reports those; answering ours is what this
			// run measures.
			if r.UUID != "" && !strings.EqualFold(r.UUID, uuid) {
				return udpdisc.Answer{}, udpdisc.ErrSkip
			}
			return udpdisc.Answer{
				MAC:   r.HardwareAddr(),
				Facts: append([]probes.Fact{probes.F("sadp.seen", "reply")}, r.Facts()...),
			}, nil
		},
		TooLarge:   ErrTooLarge,
		ErrNoReply: ErrNoReply,
		Timing:     t.Or(defaults),
		Log:        log,
	}
}
