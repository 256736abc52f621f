package dhip

import (
	"context"
	"errors"
	"log/slog"
	"net"
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

// ErrNoReply is returned by Prober.Probe when the host did not answer.
var ErrNoReply = errors.New("dhip: no reply")

// Discoverer sends DHDiscover.search to the group on a Link and emits one
// observation per address that answers, with no MAC: the MAC a reply names
// is a claim (dhip.mac), and the pipeline resolves the address. The zero
// value is ready to use.
type Discoverer struct {
	Timeout  time.Duration // whole run; default DefaultTimeout
	Sends    int           // searches sent, Interval apart; default 2
	Interval time.Duration // default DefaultInterval
	Port     int           // default 37810
	Group    net.IP        // default 239.255.255.251
	// NoGroupListen skips also listening on the group port, where some
	// firmware multicasts its answer instead of replying to the sender.
	NoGroupListen bool
	Log           *slog.Logger
}

// Name implements probes.Discoverer.
func (*Discoverer) Name() string { return "dhip" }

// Discover implements probes.Discoverer.
func (d *Discoverer) Discover(ctx context.Context, l probes.Link, emit probes.Sink) error {
	port, group := d.Port, d.Group
	if port == 0 {
		port = Port
	}
	if group == nil {
		group = Group
	}
	var listen func() (net.PacketConn, error)
	if !d.NoGroupListen {
		listen = func() (net.PacketConn, error) { return ListenGroup(l.Iface, group, port) }
	}
	x := exchange(udpdisc.Timing{Timeout: d.Timeout, Sends: d.Sends, Interval: d.Interval}, d.Log)
	return x.Discover(ctx, l, []net.Addr{&net.UDPAddr{IP: group, Port: port}}, listen, emit)
}

// Prober sends one host a unicast DHDiscover.search. Dahua devices answer a
// search sent to their own address, back to the asker's address and port:
// rroller/dahua (custom_components/dahua/discovery.py) asks one address
// from a connected socket and records answers from a VTO2000A, a
// DHI-NVR5464 and two VTH5221D. The observation carries the target's
// address and no MAC; the MAC and address the reply names are dhip.mac and
// dhip.ipv4 facts. The zero value is ready.
type Prober struct {
	Timeout  time.Duration // default DefaultTimeout
	Sends    int           // default 2
	Interval time.Duration // default DefaultInterval
	Port     int           // destination port; default 37810
	Log      *slog.Logger
}

// Name implements probes.Prober.
func (*Prober) Name() string { return "dhip" }

// Probe implements probes.Prober. Replies are accepted from any source port
// of the target's address.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	port := p.Port
	if port == 0 {
		port = Port
	}
	return exchange(udpdisc.Timing{Timeout: p.Timeout, Sends: p.Sends, Interval: p.Interval}, p.Log).Probe(ctx, t, port, nil, emit)
}

// exchange is one DHDiscover.search run.
func exchange(t udpdisc.Timing, log *slog.Logger) *udpdisc.Exchange {
	return &udpdisc.Exchange{
		Name:    "dhip",
		What:    "search",
		Request: BuildSearch(),
		IsReply: IsDHIP,
		Parse: func(b []byte) (udpdisc.Answer, error) {
			r, err := ParseReply(b)
			if errors.Is(err, ErrNotAnswers) {
				return udpdisc.Answer{}, udpdisc.ErrSkip // our own search looped back, or another tool's
			}
			if err != nil {
				return udpdisc.Answer{}, err
			}
			return udpdisc.Answer{Facts: r.Facts()}, nil
		},
		TooLarge:   ErrTooLarge,
		ErrNoReply: ErrNoReply,
		Timing:     t.Or(defaults),
		Log:        log,
	}
}
