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
// observation per address that answers, with no MAC: the MAC a reply names
// is a claim (sadp.mac), and the pipeline resolves the address. The zero
// value is ready to use.
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

// Prober asks one host by SADP: an inquiry to the host's address on 37020,
// and the same inquiry to the group on the host's link, answers read on
// our own port and on the group. Hikvision devices are reported to listen
// for SADP only on the group and to drop unicast to their own address
// (cameronnewman/hikvision-tooling, internal/sadp/commands.go, which sends
// even its targeted commands to the group for that reason), and to answer
// the asker's address and port (same file and internal/sadp/scanner.go,
// which read answers on the sending socket; julienblitte/UniversalScanner
// protocols.html). Some firmware answers to the group instead. Only
// answers from the host's own address count; other devices that answer
// the group inquiry are the passive decoder's to see. The zero value is
// ready.
type Prober struct {
	Timeout  time.Duration // default DefaultTimeout
	Sends    int           // default 2
	Interval time.Duration // default DefaultInterval
	Port     int           // destination port; default 37020
	Group    net.IP        // default 239.255.255.250
	// NoGroup asks by unicast only (loopback tests; a link where the
	// group inquiry is not wanted).
	NoGroup bool
	Log     *slog.Logger
}

// Name implements probes.Prober.
func (*Prober) Name() string { return "sadp" }

// ErrNoReply is returned by Prober.Probe when the host did not answer.
var ErrNoReply = errors.New("sadp: no reply")

// Probe implements probes.Prober. Replies are accepted from any source port
// of the target's address, since devices answer from 37020 whatever port
// asked. The observation carries the target's address and no MAC; the
// MAC and address the reply names are sadp.mac and sadp.ipv4 facts.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	port, group := p.Port, p.Group
	if port == 0 {
		port = Port
	}
	if group == nil {
		group = Group
	}
	if p.NoGroup {
		group = nil
	}
	return exchange(NewUUID(), udpdisc.Timing{Timeout: p.Timeout, Sends: p.Sends, Interval: p.Interval}, p.Log).Probe(ctx, t, port, group, emit)
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
			return udpdisc.Answer{Facts: append([]probes.Fact{probes.F("sadp.seen", "reply")}, r.Facts()...)}, nil
		},
		TooLarge:   ErrTooLarge,
		ErrNoReply: ErrNoReply,
		Timing:     t.Or(defaults),
		Log:        log,
	}
}
