package dhip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// Defaults for the active probes.
const (
	DefaultTimeout  = 3 * time.Second
	DefaultSends    = 2
	DefaultInterval = 500 * time.Millisecond
)

// ErrNoReply is returned by Prober.Probe when the host did not answer.
var ErrNoReply = errors.New("dhip: no reply")

// Discoverer sends DHDiscover.search to the group on a Link and emits one
// observation per device that answers. The zero value is ready to use.
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
	log := logger(d.Log)
	ctx, cancel := context.WithTimeout(ctx, orDefault(d.Timeout, DefaultTimeout))
	defer cancel()
	send, err := listenSend(l)
	if err != nil {
		return err
	}
	defer send.Close()
	conns := []net.PacketConn{send}
	if !d.NoGroupListen {
		if g, err := ListenGroup(l.Iface, group, port); err != nil {
			log.Debug("dhip: no group listener", "err", err)
		} else {
			defer g.Close()
			conns = append(conns, g)
		}
	}
	c := &collector{emit: emit, log: log, seen: map[string]bool{}, accept: inSubnets(l)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		collect(ctx, conns, c.handle)
	}()
	dst := &net.UDPAddr{IP: group, Port: port}
	serr := sendRounds(ctx, send, dst, BuildSearch(), orDefaultInt(d.Sends, DefaultSends), orDefault(d.Interval, DefaultInterval))
	<-done
	if serr != nil {
		return fmt.Errorf("dhip: send search to %s: %w", dst, serr)
	}
	return nil
}

// Prober sends one host a unicast DHDiscover.search. The zero value is ready.
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
	if !t.IP.Is4() {
		return fmt.Errorf("dhip: probe %s: IPv4 only", t.IP)
	}
	port := p.Port
	if port == 0 {
		port = Port
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(p.Timeout, DefaultTimeout))
	defer cancel()
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return fmt.Errorf("dhip: probe %s: %w", t.IP, err)
	}
	defer conn.Close()
	got := false
	c := &collector{
		emit: func(o probes.Observation) {
			if o.MAC == nil {
				o.MAC = t.MAC
			}
			emit(o)
			got = true
			cancel()
		},
		log:    logger(p.Log),
		seen:   map[string]bool{},
		accept: func(a netip.Addr) bool { return a == t.IP },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		collect(ctx, []net.PacketConn{conn}, c.handle)
	}()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(t.IP, uint16(port)))
	serr := sendRounds(ctx, conn, dst, BuildSearch(), orDefaultInt(p.Sends, DefaultSends), orDefault(p.Interval, DefaultInterval))
	<-done
	switch {
	case got:
		return nil
	case serr != nil:
		return fmt.Errorf("dhip: probe %s: %w", dst, serr)
	case c.lastErr != nil:
		return fmt.Errorf("dhip: probe %s: %w", dst, c.lastErr)
	}
	return fmt.Errorf("dhip: probe %s: %w", dst, ErrNoReply)
}

// collector turns reply datagrams into observations, one per device (MAC,
// else source IP).
type collector struct {
	emit    probes.Sink
	log     *slog.Logger
	accept  func(netip.Addr) bool
	seen    map[string]bool
	lastErr error
}

func (c *collector) handle(src netip.AddrPort, b []byte, oversize bool) {
	if c.accept != nil && !c.accept(src.Addr()) {
		return
	}
	if !IsDHIP(b) {
		return
	}
	if oversize {
		c.lastErr = fmt.Errorf("reply from %s: %w", src, ErrTooLarge)
		return
	}
	r, err := ParseReply(b)
	if errors.Is(err, ErrNotAnswers) {
		return // our own search looped back, or another tool's
	}
	if err != nil {
		c.lastErr = fmt.Errorf("parse reply from %s: %w", src, err)
		c.log.Debug("dhip: bad reply", "from", src, "err", err)
		return
	}
	mac := r.HardwareAddr()
	key := src.Addr().String()
	if mac != nil {
		key = mac.String()
	}
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.emit(probes.Observation{Time: time.Now(), MAC: mac, IP: src.Addr(), Probe: "dhip", Facts: r.Facts()})
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orDefaultInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return min(n, 10)
}

// inSubnets accepts answers only from the link's subnets (any source when
// the link names none): the group socket hears the whole segment, and
// what is outside the subnets is not ours to report.
func inSubnets(l probes.Link) func(netip.Addr) bool {
	if len(l.Subnets) == 0 {
		return nil
	}
	return func(a netip.Addr) bool {
		for _, p := range l.Subnets {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}
