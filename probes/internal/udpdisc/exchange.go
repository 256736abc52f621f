package udpdisc

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

// ErrSkip, returned by Exchange.Parse, drops a datagram silently: it is
// well formed but not an answer to this run (our own request looped back,
// another tool's request, a reply to another tool's request).
var ErrSkip = errors.New("udpdisc: not an answer to this run")

// Answer is what Exchange.Parse makes of one reply.
type Answer struct {
	MAC   net.HardwareAddr // the device's own, when the reply says it; else nil
	Facts []probes.Fact
}

// Exchange is one run of a request/reply discovery protocol whose every
// answer stands alone (sadp, dhip, dvrip): Request goes out Sends times,
// each datagram that comes back is recognised by IsReply and read by Parse,
// and one observation is emitted per device, keyed by its MAC (else its
// address). Build one per run: Request and Parse may carry run state such
// as a nonce. The caller resolves defaults (Timing.Or); zero values are
// taken as given.
type Exchange struct {
	Name    string // protocol: Observation.Probe and the prefix of errors and logs
	What    string // what Request is called in send errors: "inquiry", "search"
	Request []byte // sent every round

	// IsReply is a cheap check of whether a datagram is a reply of this
	// protocol at all; others are dropped silently.
	IsReply func(b []byte) bool
	// Parse reads a reply (never longer than probes.MaxPayload). It returns
	// ErrSkip for one that is not an answer to this run; any other error is
	// the run's error when no device answers.
	Parse func(b []byte) (Answer, error)
	// TooLarge is the run's error for a reply cut at probes.MaxPayload;
	// default: "larger than probes.MaxPayload bytes".
	TooLarge error
	// ErrNoReply is Probe's error when the host said nothing.
	ErrNoReply error

	Timing
	Log *slog.Logger
}

// Timing is how long a run listens and how often it asks.
type Timing struct {
	Timeout  time.Duration // whole run; ctx may end it sooner
	Sends    int           // rounds of the request
	Interval time.Duration // between rounds
}

// Or is t with each unset (non-positive) field taken from def, and Sends
// capped at MaxSends whatever the configuration says.
func (t Timing) Or(def Timing) Timing {
	return Timing{Timeout: OrDefault(t.Timeout, def.Timeout), Sends: Sends(t.Sends, def.Sends), Interval: OrDefault(t.Interval, def.Interval)}
}

// Discover sends Request to every address of to from a socket on l (see
// ListenSend) and reads answers there, and on the socket listen opens when
// listen is not nil (the group or port where some devices answer), until
// the run ends. Only answers from l's subnets count. A listen failure is
// logged, not returned: answers sent to our own port still arrive.
func (x *Exchange) Discover(ctx context.Context, l probes.Link, to []net.Addr, listen func() (net.PacketConn, error), emit probes.Sink) error {
	log := Logger(x.Log)
	ctx, cancel := context.WithTimeout(ctx, x.Timeout)
	defer cancel()
	send, err := ListenSend(l)
	if err != nil {
		return fmt.Errorf("%s: %w", x.Name, err)
	}
	defer send.Close()
	conns := []net.PacketConn{send}
	if listen != nil {
		if c, err := listen(); err != nil {
			// Another program may own the port without reuse.
			log.Debug(x.Name+": no listener for answers", "err", err)
		} else {
			defer c.Close()
			conns = append(conns, c)
		}
	}
	c := x.collector(emit, log, InSubnets(l.Subnets))
	done := make(chan struct{})
	go func() {
		defer close(done)
		Collect(ctx, conns, c.handle)
	}()
	ds := make([]Datagram, len(to))
	for i, a := range to {
		ds[i] = Datagram{To: a, Msg: x.Request}
	}
	dst, serr := SendRounds(ctx, send, x.Sends, x.Interval, ds...)
	<-done
	if serr != nil {
		return fmt.Errorf("%s: send %s to %s: %w", x.Name, x.What, dst, serr)
	}
	return nil
}

// Probe sends Request to t's IPv4 address on port and emits the first
// answer from that address, whatever its source port (devices answer from
// their service port whatever port asked), then stops. With no answer it
// returns the send error, else the last bad reply's error, else ErrNoReply.
func (x *Exchange) Probe(ctx context.Context, t probes.Target, port int, emit probes.Sink) error {
	if !t.IP.Is4() {
		return fmt.Errorf("%s: probe %s: IPv4 only", x.Name, t.IP)
	}
	ctx, cancel := context.WithTimeout(ctx, x.Timeout)
	defer cancel()
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return fmt.Errorf("%s: probe %s: %w", x.Name, t.IP, err)
	}
	defer conn.Close()
	got := false
	c := x.collector(func(o probes.Observation) {
		if o.MAC == nil {
			o.MAC = t.MAC
		}
		emit(o)
		got = true
		cancel() // one device, one answer: done
	}, Logger(x.Log), func(a netip.Addr) bool { return a == t.IP })
	done := make(chan struct{})
	go func() {
		defer close(done)
		Collect(ctx, []net.PacketConn{conn}, c.handle)
	}()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(t.IP, uint16(port)))
	_, serr := SendRounds(ctx, conn, x.Sends, x.Interval, Datagram{To: dst, Msg: x.Request})
	<-done
	switch {
	case got:
		return nil
	case serr != nil:
		return fmt.Errorf("%s: probe %s: %w", x.Name, dst, serr)
	case c.lastErr != nil:
		return fmt.Errorf("%s: probe %s: %w", x.Name, dst, c.lastErr)
	}
	return fmt.Errorf("%s: probe %s: %w", x.Name, dst, x.ErrNoReply)
}

// collector turns reply datagrams into observations, one per device. Collect
// serialises calls to handle, so it needs no lock.
type collector struct {
	x       *Exchange
	emit    probes.Sink
	log     *slog.Logger
	accept  func(netip.Addr) bool
	seen    map[string]bool
	lastErr error
}

func (x *Exchange) collector(emit probes.Sink, log *slog.Logger, accept func(netip.Addr) bool) *collector {
	return &collector{x: x, emit: emit, log: log, accept: accept, seen: map[string]bool{}}
}

func (c *collector) handle(src netip.AddrPort, b []byte, oversize bool) {
	if c.accept != nil && !c.accept(src.Addr()) {
		return
	}
	if !c.x.IsReply(b) {
		return // our own request looped back, or another protocol's datagram
	}
	if oversize {
		tooLarge := c.x.TooLarge
		if tooLarge == nil {
			tooLarge = fmt.Errorf("larger than %d bytes", probes.MaxPayload)
		}
		c.lastErr = fmt.Errorf("reply from %s: %w", src, tooLarge)
		c.log.Debug(c.x.Name+": oversized reply", "from", src)
		return
	}
	a, err := c.x.Parse(b)
	if errors.Is(err, ErrSkip) {
		return
	}
	if err != nil {
		c.lastErr = fmt.Errorf("parse reply from %s: %w", src, err)
		c.log.Debug(c.x.Name+": bad reply", "from", src, "err", err)
		return
	}
	key := src.Addr().String()
	if a.MAC != nil {
		key = a.MAC.String()
	}
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.emit(probes.Observation{Time: time.Now(), MAC: a.MAC, IP: src.Addr(), Probe: c.x.Name, Facts: a.Facts})
}
