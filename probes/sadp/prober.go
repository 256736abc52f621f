package sadp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// Defaults for the active probes.
const (
	DefaultTimeout  = 3 * time.Second
	DefaultSends    = 2
	DefaultInterval = 500 * time.Millisecond
)

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
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(d.Timeout, DefaultTimeout))
	defer cancel()

	send, err := listenSend(l)
	if err != nil {
		return err
	}
	defer send.Close()
	conns := []net.PacketConn{send}
	if !d.NoGroupListen {
		g, err := ListenGroup(l.Iface, group, port)
		if err != nil {
			// Another program may own the port without reuse; replies sent
			// to our own port still arrive.
			log.Debug("sadp: no group listener", "err", err)
		} else {
			defer g.Close()
			conns = append(conns, g)
		}
	}
	newUUID := d.NewUUID
	if newUUID == nil {
		newUUID = NewUUID
	}
	uuid := newUUID()
	c := newCollector(uuid, emit, log, inSubnets(l))
	done := make(chan struct{})
	go func() {
		defer close(done)
		collect(ctx, conns, c.handle)
	}()
	dst := &net.UDPAddr{IP: group, Port: port}
	serr := sendRounds(ctx, send, dst, BuildInquiry(uuid), orDefaultInt(d.Sends, DefaultSends), orDefault(d.Interval, DefaultInterval))
	<-done
	if serr != nil {
		return fmt.Errorf("sadp: send inquiry to %s: %w", dst, serr)
	}
	return nil
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
	if !t.IP.Is4() {
		return fmt.Errorf("sadp: probe %s: IPv4 only", t.IP)
	}
	port := p.Port
	if port == 0 {
		port = Port
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(p.Timeout, DefaultTimeout))
	defer cancel()
	c, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return fmt.Errorf("sadp: probe %s: %w", t.IP, err)
	}
	defer c.Close()
	uuid := NewUUID()
	got := false
	col := newCollector(uuid, func(o probes.Observation) {
		if o.MAC == nil {
			o.MAC = t.MAC
		}
		emit(o)
		got = true
		cancel() // one device, one answer: done
	}, log, func(src netip.Addr) bool { return src == t.IP })
	done := make(chan struct{})
	go func() {
		defer close(done)
		collect(ctx, []net.PacketConn{c}, col.handle)
	}()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(t.IP, uint16(port)))
	serr := sendRounds(ctx, c, dst, BuildInquiry(uuid), orDefaultInt(p.Sends, DefaultSends), orDefault(p.Interval, DefaultInterval))
	<-done
	switch {
	case got:
		return nil
	case serr != nil:
		return fmt.Errorf("sadp: probe %s: %w", dst, serr)
	case col.lastErr != nil:
		return fmt.Errorf("sadp: probe %s: %w", dst, col.lastErr)
	}
	return fmt.Errorf("sadp: probe %s: %w", dst, ErrNoReply)
}

// collector turns reply datagrams into observations, deduplicated per
// device (MAC, else source IP).
type collector struct {
	uuid    string
	emit    probes.Sink
	log     *slog.Logger
	accept  func(netip.Addr) bool
	seen    map[string]bool
	lastErr error
}

func newCollector(uuid string, emit probes.Sink, log *slog.Logger, accept func(netip.Addr) bool) *collector {
	return &collector{uuid: uuid, emit: emit, log: log, accept: accept, seen: map[string]bool{}}
}

func (c *collector) handle(src netip.AddrPort, b []byte, oversize bool) {
	if c.accept != nil && !c.accept(src.Addr()) {
		return
	}
	if Kind(b) != "reply" {
		return // our own inquiry looped back, or another tool's
	}
	if oversize {
		c.lastErr = fmt.Errorf("reply from %s: %w", src, ErrTooLarge)
		c.log.Debug("sadp: oversized reply", "from", src)
		return
	}
	r, err := ParseReply(b)
	if err != nil {
		c.lastErr = fmt.Errorf("parse reply from %s: %w", src, err)
		c.log.Debug("sadp: bad reply", "from", src, "err", err)
		return
	}
	// A reply to someone else's inquiry is still true, but the decoder
	// already reports those; answering ours is what this run measures.
	if r.UUID != "" && !strings.EqualFold(r.UUID, c.uuid) {
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
	c.emit(probes.Observation{
		Time:  time.Now(),
		MAC:   mac,
		IP:    src.Addr(),
		Probe: "sadp",
		Facts: append([]probes.Fact{probes.F("sadp.seen", "reply")}, r.Facts()...),
	})
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
	return min(n, 10) // bounded whatever the config says
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
