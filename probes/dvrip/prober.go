package dvrip

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
	maxSubnets      = 8 // broadcast to at most this many of a Link's subnets
)

// ErrNoReply is returned by Prober.Probe when the host did not answer.
var ErrNoReply = errors.New("dvrip: no reply")

// ErrNoSubnet is returned by Discover when the Link names no IPv4 subnet to
// broadcast to: active work never guesses where it may send.
var ErrNoSubnet = errors.New("dvrip: link has no IPv4 subnet")

// Discoverer broadcasts the DVRIP search to each IPv4 subnet of a Link
// (directed broadcast, so it leaves only through that link) and emits one
// observation per device that answers. The zero value is ready to use.
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
	log := logger(d.Log)
	ctx, cancel := context.WithTimeout(ctx, orDefault(d.Timeout, DefaultTimeout))
	defer cancel()
	send, err := listenSend(l)
	if err != nil {
		return err
	}
	defer send.Close()
	conns := []net.PacketConn{send}
	if !d.NoPortListen {
		if pc, err := ListenPort(port); err != nil {
			log.Debug("dvrip: no port listener", "err", err)
		} else {
			defer pc.Close()
			conns = append(conns, pc)
		}
	}
	c := &collector{emit: emit, log: log, seen: map[string]bool{}, accept: func(a netip.Addr) bool {
		for _, p := range l.Subnets {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		collect(ctx, conns, c.handle)
	}()
	var serr error
	for i := 0; i < orDefaultInt(d.Sends, DefaultSends) && ctx.Err() == nil; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				continue // the run is over: no answer to this round would be read
			case <-time.After(orDefault(d.Interval, DefaultInterval)):
			}
		}
		for _, dst := range dsts {
			if _, err := send.WriteTo(BuildSearch(), dst); err != nil && serr == nil {
				serr = fmt.Errorf("dvrip: send search to %s: %w", dst, err)
			}
		}
	}
	<-done
	return serr
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

// Prober sends one host a unicast DVRIP search. The zero value is ready.
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
	if !t.IP.Is4() {
		return fmt.Errorf("dvrip: probe %s: IPv4 only", t.IP)
	}
	port := p.Port
	if port == 0 {
		port = Port
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(p.Timeout, DefaultTimeout))
	defer cancel()
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return fmt.Errorf("dvrip: probe %s: %w", t.IP, err)
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
		return fmt.Errorf("dvrip: probe %s: %w", dst, serr)
	case c.lastErr != nil:
		return fmt.Errorf("dvrip: probe %s: %w", dst, c.lastErr)
	}
	return fmt.Errorf("dvrip: probe %s: %w", dst, ErrNoReply)
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
	if !IsReply(b) {
		return // our own broadcast looped back, or another tool's search
	}
	if oversize {
		c.lastErr = fmt.Errorf("reply from %s: larger than %d bytes", src, probes.MaxPayload)
		return
	}
	r, err := ParseReply(b)
	if err != nil {
		c.lastErr = fmt.Errorf("parse reply from %s: %w", src, err)
		c.log.Debug("dvrip: bad reply", "from", src, "err", err)
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
	c.emit(probes.Observation{Time: time.Now(), MAC: mac, IP: src.Addr(), Probe: "dvrip", Facts: r.Facts()})
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
