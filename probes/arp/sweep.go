package arp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// Sweep defaults.
const (
	DefaultRate   = 500                     // ARP requests per second
	DefaultLinger = 1500 * time.Millisecond // listening after the last request, at most
	// A host answers ARP from its kernel, within a millisecond on a wired
	// link. ReplyFloor after the last request covers what is slower: a
	// Wi-Fi camera in power save hears a broadcast only at its next DTIM
	// beacon (100–300 ms at common settings), a busy embedded stack. A host
	// slower still is seen by capture when it talks (its own ARP, DHCP,
	// announcements). ReplySettle after the last reply ends the sweep once
	// a burst of answers is over.
	ReplyFloor  = 300 * time.Millisecond
	ReplySettle = 200 * time.Millisecond
	// MinPrefixBits is the largest subnet a sweep accepts (/16: 65,534
	// addresses, about two minutes at the default rate).
	MinPrefixBits = 16
)

// ErrSubnetTooLarge is returned for a subnet wider than /16.
var ErrSubnetTooLarge = errors.New("arp: subnet larger than /16")

// ErrUnsupported is returned by the default Dial off Linux.
var ErrUnsupported = errors.New("arp: sweeping needs Linux AF_PACKET (or an injected Dial)")

// Conn sends and receives whole Ethernet frames carrying ARP.
type Conn interface {
	ReadFrame(b []byte) (int, error)
	WriteFrame(b []byte) error
	SetReadDeadline(t time.Time) error
	Close() error
}

// Sweeper is the active ARP discoverer: it asks every address of the link's
// subnets "who has" at a capped rate and reports each host that answers.
type Sweeper struct {
	Rate int // requests per second; DefaultRate when 0
	// Linger is the longest to wait for late replies after the last
	// request (DefaultLinger when 0); the sweep ends sooner once ReplyFloor
	// has passed since the last request and ReplySettle since the last
	// reply.
	Linger time.Duration
	// RTT, when set, is told each answering host's round trip (request
	// sent to reply read), from which the scheduler sizes the wait for
	// that host's answers to unicast probes.
	RTT func(ip netip.Addr, d time.Duration)
	// Dial opens the link socket on the link's interface; nil means an
	// AF_PACKET socket (Linux only; ErrUnsupported elsewhere).
	Dial func(ifi *net.Interface) (Conn, error)
	Now  func() time.Time // stamps observations; time.Now when nil
	Log  *slog.Logger
}

// NewSweeper returns a sweeper sending at most rate requests per second
// (DefaultRate when rate <= 0) over AF_PACKET.
func NewSweeper(rate int) *Sweeper { return &Sweeper{Rate: rate} }

// Name implements probes.Discoverer.
func (s *Sweeper) Name() string { return "arp" }

// targets lists the IPv4 addresses to ask: every address of each subnet but
// the network and broadcast addresses (for /30 and wider) and our own.
func targets(l probes.Link) ([]netip.Addr, error) {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, p := range l.Subnets {
		p = p.Masked()
		if !p.Addr().Is4() {
			continue // ARP is IPv4 only
		}
		if p.Bits() < MinPrefixBits {
			return nil, fmt.Errorf("%w: %s has %d addresses; split it or sweep /16 parts", ErrSubnetTooLarge, p, uint64(1)<<(32-p.Bits()))
		}
		first := p.Addr()
		n := uint32(1) << (32 - p.Bits())
		base := binary.BigEndian.Uint32(first.AsSlice())
		for i := uint32(0); i < n; i++ {
			if p.Bits() <= 30 && (i == 0 || i == n-1) {
				continue
			}
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], base+i)
			a := netip.AddrFrom4(b)
			if a == l.Addr || seen[a] {
				continue
			}
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// Discover implements probes.Discoverer. It returns once every request has
// been sent and replies have stopped (ReplyFloor after the last request,
// ReplySettle after the last reply, at most Linger after the last
// request), or with ctx's error if ctx ends before the last request went
// out. Replies arriving before then are emitted at once.
func (s *Sweeper) Discover(ctx context.Context, l probes.Link, emit probes.Sink) error {
	return s.DiscoverThen(ctx, l, emit, nil)
}

// DiscoverThen is Discover, calling asked (when not nil) once the last
// request has gone out, before the wait for late replies.
func (s *Sweeper) DiscoverThen(ctx context.Context, l probes.Link, emit probes.Sink, asked func()) error {
	if l.Iface == nil || len(l.Iface.HardwareAddr) != 6 {
		return errors.New("arp: sweep: link has no Ethernet interface")
	}
	if !l.Addr.Is4() {
		return fmt.Errorf("arp: sweep on %s: the link needs our own IPv4 address to ask from", l.Iface.Name)
	}
	addrs, err := targets(l)
	if err != nil {
		return fmt.Errorf("arp: sweep on %s: %w", l.Iface.Name, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("arp: sweep on %s: no IPv4 subnet to sweep", l.Iface.Name)
	}
	rate, linger, now, log := s.Rate, s.Linger, s.Now, s.Log
	if rate <= 0 {
		rate = DefaultRate
	}
	if linger <= 0 {
		linger = DefaultLinger
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dial := s.Dial
	if dial == nil {
		dial = dialPacket
	}
	conn, err := dial(l.Iface)
	if err != nil {
		return fmt.Errorf("arp: sweep on %s: %w", l.Iface.Name, err)
	}
	defer conn.Close()

	// The sweep lasts the send schedule (two passes at most), then until
	// replies stop. The bound allows a loaded host to send ten times
	// slower than planned: a bound hit while sending would leave no wait
	// for the last replies (ctx, the caller's, still ends it).
	sending := 2 * time.Duration(len(addrs)) * time.Second / time.Duration(rate)
	rctx, round := probes.Quiet{Floor: min(ReplyFloor, linger), Settle: ReplySettle, Max: 10*sending + linger}.Start(ctx)
	defer round.Stop()
	round.Sending()
	// sent holds when each address was asked, until it answers: only a
	// first answer to our own request moves the end of the sweep, not the
	// replies to the kernel's own resolutions that probing causes meanwhile.
	var sentMu sync.Mutex
	sent := make(map[netip.Addr]time.Time, len(addrs)) // bounded by the subnet size (MinPrefixBits)
	answered := func(ip netip.Addr) {
		sentMu.Lock()
		at, ok := sent[ip]
		delete(sent, ip)
		sentMu.Unlock()
		if !ok {
			return
		}
		round.Heard()
		if s.RTT != nil {
			s.RTT(ip, time.Since(at))
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.collect(conn, l, len(addrs), now, log, emit, answered)
	}()
	// However the sweep ends, unblock the reader and wait for it, so no
	// emit happens after Discover returns.
	defer func() {
		_ = conn.SetReadDeadline(time.Unix(1, 0))
		wg.Wait()
	}()

	ourMAC := l.Iface.HardwareAddr
	req := Packet{Op: OpRequest, SenderMAC: ourMAC, SenderIP: l.Addr, TargetMAC: make(net.HardwareAddr, 6)}
	// Send on a 2 ms tick, one request per tick at the default rate: every
	// request is a broadcast the switch copies to every port, and a burst
	// of them overflowed a software switch's queue in the 200-device lab
	// (the kernel's per-CPU backlog holds 1,000 frames: five requests to
	// 200 ports), losing the copies for the ports served last, the same
	// devices every time.
	tick := 2 * time.Millisecond
	perTick := rate * int(tick/time.Millisecond) / 1000
	if perTick < 1 {
		perTick = 1
		tick = time.Second / time.Duration(rate)
	}
	// Each tick sends what the rate allows since the sweep began, so ticks
	// that come late on a loaded host (a ticker drops the ones missed) do
	// not stretch the sweep much; but never more than maxBurst at once (the
	// five per 10 ms the sweep always sent), so catching up is no flood.
	// The average never exceeds the rate.
	maxBurst := max(2*perTick, 5)
	t := time.NewTicker(tick)
	defer t.Stop()
	began := time.Now()
	allowed, n := perTick, 0
	ask := func(a netip.Addr, first bool) error {
		for n >= allowed {
			select {
			case <-ctx.Done():
				return fmt.Errorf("arp: sweep on %s: stopped after %d requests for %d addresses: %w", l.Iface.Name, n, len(addrs), ctx.Err())
			case <-t.C:
			}
			allowed = max(allowed, min(int(time.Since(began)*time.Duration(rate)/time.Second)+perTick, n+maxBurst))
		}
		n++
		req.TargetIP = a
		fr, err := req.Frame(Broadcast)
		if err != nil {
			return fmt.Errorf("arp: sweep on %s: %w", l.Iface.Name, err)
		}
		if first {
			sentMu.Lock()
			sent[a] = time.Now()
			sentMu.Unlock()
		}
		if err := conn.WriteFrame(fr); err != nil {
			return fmt.Errorf("arp: sweep on %s: ask %s: %w", l.Iface.Name, a, err)
		}
		return nil
	}
	for _, a := range addrs {
		if err := ask(a, true); err != nil {
			return err
		}
	}
	if asked != nil {
		asked()
	}
	// Every address still silent is asked once more, in the same order, so
	// each about one pass after its first request: a request or a reply
	// lost (a busy switch, a camera's small ARP queue, a full socket buffer
	// on a loaded appliance) costs a device only when it is lost twice.
	// Like arp-scan's retry, at the same rate; the replies to the first
	// pass are mostly in by then, so little is asked twice needlessly.
	for _, a := range addrs {
		sentMu.Lock()
		_, silent := sent[a]
		sentMu.Unlock()
		if silent {
			if err := ask(a, false); err != nil {
				return err
			}
		}
	}
	round.Sent()
	<-rctx.Done()
	if d, ok := conn.(interface{ Drops() uint64 }); ok {
		if n := d.Drops(); n > 0 {
			log.Warn("arp: sweep: the kernel dropped replies for want of buffer room", "iface", l.Iface.Name, "dropped", n)
		}
	}
	return nil
}

// collect reads replies addressed to us until the socket is closed or its
// deadline passes, emitting each (MAC, IP) pair once: two MACs answering for
// one IP (an address conflict, or a spoofer) are both reported.
func (s *Sweeper) collect(conn Conn, l probes.Link, n int, now func() time.Time, log *slog.Logger, emit probes.Sink, answered func(netip.Addr)) {
	type key struct {
		mac [6]byte
		ip  netip.Addr
	}
	seen := map[key]bool{}
	// bound the memory a flood of forged replies can take
	maxSeen := 2*n + 16
	buf := make([]byte, 1514)
	for {
		nr, err := conn.ReadFrame(buf)
		if err != nil {
			return
		}
		fr := buf[:nr]
		if nr < 14 || binary.BigEndian.Uint16(fr[12:14]) != 0x0806 {
			continue
		}
		p, err := Parse(fr[14:])
		if err != nil {
			log.Debug("arp: sweep: bad reply", "err", err)
			continue
		}
		if p.Op != OpReply || p.TargetIP != l.Addr || p.SenderIP == l.Addr || !probes.InSubnets(p.SenderIP, l.Subnets) {
			continue
		}
		if p.SenderMAC[0]&1 != 0 || isZero(p.SenderMAC) {
			continue
		}
		answered(p.SenderIP)
		k := key{mac: [6]byte(p.SenderMAC), ip: p.SenderIP}
		if seen[k] || len(seen) >= maxSeen {
			continue
		}
		seen[k] = true
		emit(probes.Observation{
			Time:  now(),
			MAC:   p.SenderMAC,
			IP:    p.SenderIP,
			Probe: "arp",
			Facts: []probes.Fact{probes.F("arp.sweep", "reply")},
		})
	}
}
