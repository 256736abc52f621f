package udpdisc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// ErrSkip, returned by Exchange.Parse, drops a datagram silently: it is
// well formed but not an answer to this run (our own request looped back,
// another tool's request, a reply to another tool's request).
var ErrSkip = errors.New("udpdisc: not an answer to this run")

// Answer is what Exchange.Parse makes of one reply: facts only. A MAC or
// address written inside the reply is the sender's claim and goes in as a
// fact (<probe>.mac, <probe>.ipv4); it never says who answered. Anyone on
// the segment can send a reply naming any MAC, and attributing the answer
// to the named MAC would let one datagram create a device, or lend a
// verdict to a device that never spoke the protocol.
type Answer struct {
	Facts []probes.Fact
}

// Exchange is one run of a request/reply discovery protocol whose every
// answer stands alone (sadp, dhip, dvrip): Request goes out Sends times,
// each datagram that comes back is recognised by IsReply and read by Parse,
// and one observation is emitted per answering address: MAC nil, IP the
// datagram's source, which the pipeline resolves to a MAC from what it saw
// on the wire. Build one per run: Request and Parse may carry run state such
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
	Timeout  time.Duration // whole run at most; ctx may end it sooner
	Sends    int           // rounds of the request
	Interval time.Duration // between rounds
	// Floor and Settle end a Discover run once answers stop (probes.Quiet):
	// Floor after the last round went out, Settle after the last answer;
	// DefaultFloor and DefaultSettle when unset. Probe ends at its first
	// answer, or Timeout.
	Floor, Settle time.Duration
}

// How long a Discover run listens after its last request and after its
// last answer. SADP, DHIP and DVRIP define no response delay: the lab's
// responders and the captures published for these protocols answer
// within milliseconds, from the vendor daemon in user space. The floor
// leaves half a second for a busy device (a recorder encoding many
// streams) on top of the two rounds already half a second apart, so a run
// lasts at least a second; the settle time lets a burst of many devices'
// answers, which a loaded host reads in clumps, finish arriving.
const (
	DefaultFloor  = 500 * time.Millisecond
	DefaultSettle = 250 * time.Millisecond
)

// Or is t with each unset (non-positive) field taken from def, and Sends
// capped at MaxSends whatever the configuration says.
func (t Timing) Or(def Timing) Timing {
	return Timing{Timeout: OrDefault(t.Timeout, def.Timeout), Sends: Sends(t.Sends, def.Sends), Interval: OrDefault(t.Interval, def.Interval),
		Floor: OrDefault(t.Floor, def.Floor), Settle: OrDefault(t.Settle, def.Settle)}
}

// Discover sends Request to every address of to from a socket on l (see
// ListenSend) and reads answers there, and on the socket listen opens when
// listen is not nil (the group or port where some devices answer), until
// the run ends. Only answers from l's subnets count. A listen failure is
// logged, not returned: answers sent to our own port still arrive.
func (x *Exchange) Discover(ctx context.Context, l probes.Link, to []net.Addr, listen func() (net.PacketConn, error), emit probes.Sink) error {
	log := Logger(x.Log)
	ctx, round := probes.Quiet{Floor: OrDefault(x.Floor, DefaultFloor), Settle: OrDefault(x.Settle, DefaultSettle), Max: x.Timeout}.Start(ctx)
	defer round.Stop()
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
	c.heard = round.Heard
	done := make(chan struct{})
	go func() {
		defer close(done)
		Collect(ctx, conns, c.handle)
	}()
	ds := make([]Datagram, len(to))
	for i, a := range to {
		ds[i] = Datagram{To: a, Msg: x.Request}
	}
	round.Sending()
	dst, serr := SendRounds(ctx, send, x.Sends, x.Interval, ds...)
	round.Sent()
	<-done
	if serr != nil {
		return fmt.Errorf("%s: send %s to %s: %w", x.Name, x.What, dst, serr)
	}
	return nil
}

// Probe sends Request to t's IPv4 address on port and emits the first
// answer from that address, whatever its source port (devices answer from
// their service port whatever port asked), then stops. With group set, the
// request also goes to group:port out of the interface whose subnet holds
// t's address (TTL 1), and answers are also read on that group, joined
// there: some devices hear their protocol only on its group, or answer
// only to it. Other devices on the link may answer the group request too;
// only t's address counts here (the passive decoder sees the rest). The
// observation carries no MAC: the pipeline resolves t's address itself,
// as it does for every UDP answer. When ctx says the host already heard
// the group request (probes.GroupAsked) only t is asked, while answers
// are still read on the group. A host that refuses the port (ICMP port
// unreachable, on Linux) ends the run at once with ErrNoReply. With no
// answer Probe returns that refusal, else the send error, else the last
// bad reply's error, else ErrNoReply.
func (x *Exchange) Probe(ctx context.Context, t probes.Target, port int, group net.IP, emit probes.Sink) error {
	if !t.IP.Is4() {
		return fmt.Errorf("%s: probe %s: IPv4 only", x.Name, t.IP)
	}
	log := Logger(x.Log)
	// Without an answer the run ends ReplyWait after the last request (the
	// scheduler's wait from the host's round trip), at most Timeout.
	pctx := ctx
	ctx, round := probes.Quiet{Max: x.Timeout}.StartSending(ctx)
	defer round.Stop()
	cancel := round.Stop
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(t.IP, uint16(port)))
	ds := []Datagram{{To: dst, Msg: x.Request}}
	var conns []net.PacketConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	l, onLink := linkOf(t.IP)
	// A host that heard the group request of the latest discovery round
	// is asked alone (probes.GroupAsked), from a socket that hears ICMP
	// errors (IP_RECVERR): a host that does not listen on the port answers
	// port unreachable, which ends the run at once instead of after the
	// wait. Its answer may still come to the group, so the group is read.
	alone := probes.GroupAsked(ctx) || group == nil || !onLink
	if alone {
		c, err := ListenAsk()
		if err != nil {
			return fmt.Errorf("%s: probe %s: %w", x.Name, t.IP, err)
		}
		conns = append(conns, c)
	} else {
		c, err := ListenSend(l)
		if err != nil {
			return fmt.Errorf("%s: probe %s: %w", x.Name, t.IP, err)
		}
		conns = append(conns, c)
		ds = append(ds, Datagram{To: &net.UDPAddr{IP: group, Port: port}, Msg: x.Request})
	}
	if group != nil && onLink {
		if g, err := ListenGroup(l.Iface, group, port); err != nil {
			log.Debug(x.Name+": no group listener for a probe", "iface", l.Iface.Name, "err", err)
		} else {
			conns = append(conns, g)
		}
	}
	got := false
	var refused atomic.Bool
	c := x.collector(func(o probes.Observation) {
		emit(o)
		got = true
		cancel() // one device, one answer: done
	}, log, func(a netip.Addr) bool { return a == t.IP })
	c.refused = func() {
		refused.Store(true)
		cancel()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Collect(ctx, conns, c.handle, c.refusedBy)
	}()
	sentTo, serr := SendRounds(ctx, conns[0], x.Sends, x.Interval, ds...)
	if errors.Is(serr, syscall.ECONNREFUSED) {
		refused.Store(true)
		cancel()
	}
	round.SentWithin(probes.ReplyWait(pctx, x.Timeout))
	<-done
	switch {
	case got:
		return nil
	case refused.Load():
		return fmt.Errorf("%s: probe %s: %w (port unreachable)", x.Name, dst, x.ErrNoReply)
	case serr != nil:
		return fmt.Errorf("%s: probe %s: %w", x.Name, sentTo, serr)
	case c.lastErr != nil:
		return fmt.Errorf("%s: probe %s: %w", x.Name, dst, c.lastErr)
	}
	return fmt.Errorf("%s: probe %s: %w", x.Name, dst, x.ErrNoReply)
}

// linkOf finds the link an address is on: the up, multicast-capable,
// non-loopback interface with an IPv4 subnet holding it (not as its own
// address). Loopback never qualifies, so a probe of 127.0.0.1 stays
// unicast. A variable so tests can pretend.
var linkOf = func(ip netip.Addr) (probes.Link, bool) {
	ifs, err := net.Interfaces()
	if err != nil {
		return probes.Link{}, false
	}
	for i := range ifs {
		ifi := &ifs[i]
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 || ifi.Flags&net.FlagMulticast == 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			own, ok := netip.AddrFromSlice(n.IP)
			own = own.Unmap()
			bits, size := n.Mask.Size()
			if !ok || !own.Is4() || size != 32 || own == ip {
				continue
			}
			if p := netip.PrefixFrom(own, bits).Masked(); p.Contains(ip) {
				return probes.Link{Iface: ifi, Addr: own, Subnets: []netip.Prefix{p}}, true
			}
		}
	}
	return probes.Link{}, false
}

// collector turns reply datagrams into observations, one per device. Collect
// serialises calls to handle, so it needs no lock.
type collector struct {
	x       *Exchange
	emit    probes.Sink
	log     *slog.Logger
	accept  func(netip.Addr) bool
	seen    map[netip.Addr]bool
	lastErr error
	heard   func() // told of every answer; nil when the run's end does not depend on them
	refused func() // told when the asked host refused the port (ICMP port unreachable); nil: ignored
}

// refusedBy is Collect's hook for a refused connected socket.
func (c *collector) refusedBy() {
	if c.refused != nil {
		c.refused()
	}
}

func (x *Exchange) collector(emit probes.Sink, log *slog.Logger, accept func(netip.Addr) bool) *collector {
	return &collector{x: x, emit: emit, log: log, accept: accept, seen: map[netip.Addr]bool{}}
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
	if c.heard != nil {
		c.heard() // an answer, even one already counted: the link is still talking
	}
	if err != nil {
		c.lastErr = fmt.Errorf("parse reply from %s: %w", src, err)
		c.log.Debug(c.x.Name+": bad reply", "from", src, "err", err)
		return
	}
	// One observation per sender, whatever MAC its replies name: two
	// replies from one address naming two MACs are one device making two
	// claims, not two devices.
	key := src.Addr()
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.emit(probes.Observation{Time: time.Now(), IP: src.Addr(), Probe: c.x.Name, Facts: a.Facts})
}
