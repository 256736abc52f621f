package dvrip

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// Defaults for the active probes.
const (
	DefaultTimeout  = 3 * time.Second
	DefaultSends    = 2
	DefaultInterval = 500 * time.Millisecond
	maxSubnets      = 8 // broadcast to at most this many of a Link's subnets
)

var defaults = udpdisc.Timing{Timeout: DefaultTimeout, Sends: DefaultSends, Interval: DefaultInterval}

// ErrNoReply is returned by Prober.Probe when the host did not answer.
var ErrNoReply = errors.New("dvrip: no reply")

// ErrNoSubnet is returned by Discover when the Link names no IPv4 subnet to
// broadcast to: active work never guesses where it may send.
var ErrNoSubnet = errors.New("dvrip: link has no IPv4 subnet")

// Discoverer broadcasts the DVRIP search to each IPv4 subnet of a Link
// (directed broadcast, so it leaves only through that link) and emits one
// observation per address that answers, with no MAC (the MAC a reply names
// is the dvrip.mac claim). The zero value is ready to use.
type Discoverer struct {
	Timeout  time.Duration // whole run; default DefaultTimeout
	Sends    int           // searches per subnet, Interval apart; default 2
	Interval time.Duration // default DefaultInterval
	Port     int           // default 5050
	// NoPortListen skips also listening on the DVRIP port, where devices
	// that answer by broadcast send their reply.
	NoPortListen bool
	Log          *slog.Logger
}

// Name implements probes.Discoverer.
func (*Discoverer) Name() string { return "dvrip" }

// Discover implements probes.Discoverer.
func (d *Discoverer) Discover(ctx context.Context, l probes.Link, emit probes.Sink) error {
	port := d.Port
	if port == 0 {
		port = Port
	}
	var dsts []net.Addr
	for _, p := range l.Subnets {
		if b, ok := broadcast(p); ok && len(dsts) < maxSubnets {
			dsts = append(dsts, &net.UDPAddr{IP: net.IP(b.AsSlice()), Port: port})
		}
	}
	if len(dsts) == 0 {
		return ErrNoSubnet
	}
	var listen func() (net.PacketConn, error)
	if !d.NoPortListen {
		listen = func() (net.PacketConn, error) { return ListenPort(port) }
	}
	// l.Subnets is not empty here, so only answers from them count.
	return exchange(udpdisc.Timing{Timeout: d.Timeout, Sends: d.Sends, Interval: d.Interval}, d.Log).Discover(ctx, l, dsts, listen, emit)
}

// broadcast returns the directed broadcast address of an IPv4 prefix.
func broadcast(p netip.Prefix) (netip.Addr, bool) {
	if !p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 30 {
		return netip.Addr{}, false
	}
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// Prober sends one host a unicast DVRIP search; devices answer the asker's
// address and port (julienblitte/UniversalScanner protocols.html). The
// observation carries the target's address and no MAC; the MAC and address
// the reply names are dvrip.mac and dvrip.ipv4 facts. The zero value is
// ready.
type Prober struct {
	Timeout  time.Duration // default DefaultTimeout
	Sends    int           // default 2
	Interval time.Duration // default DefaultInterval
	Port     int           // destination port; default 5050
	Log      *slog.Logger
}

// Name implements probes.Prober.
func (*Prober) Name() string { return "dvrip" }

// Probe implements probes.Prober. Replies are accepted from any source port
// of the target's address.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	port := p.Port
	if port == 0 {
		port = Port
	}
	return exchange(udpdisc.Timing{Timeout: p.Timeout, Sends: p.Sends, Interval: p.Interval}, p.Log).Probe(ctx, t, port, nil, emit)
}

// exchange is one DVRIP search run. An oversized reply is reported as
// "larger than probes.MaxPayload bytes" (udpdisc's default).
func exchange(t udpdisc.Timing, log *slog.Logger) *udpdisc.Exchange {
	return &udpdisc.Exchange{
		Name:    "dvrip",
		What:    "search",
		Request: BuildSearch(),
		IsReply: IsReply, // not our own broadcast looped back, nor another tool's search
		Parse: func(b []byte) (udpdisc.Answer, error) {
			r, err := ParseReply(b)
			if err != nil {
				return udpdisc.Answer{}, err
			}
			return udpdisc.Answer{Facts: r.Facts()}, nil
		},
		ErrNoReply: ErrNoReply,
		Timing:     t.Or(defaults),
		Log:        log,
	}
}
