package mdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// Group is the IPv4 mDNS group and port.
var Group = netip.MustParseAddrPort("224.0.0.251:5353")

// Discoverer limits.
const (
	maxReplies = 1024 // datagrams read per Discover
	resends    = 2    // queries sent per Discover, in case one is lost
	// resendGap spaces them. RFC 6762's one-second minimum between a
	// querier's first two queries is for continuous querying (§5.2); this
	// is a one-shot query (§5.1) asking once more.
	resendGap = 500 * time.Millisecond
	// A responder delays an answer about shared records (the service
	// PTRs asked here) by 20–120 ms (RFC 6762 §6); replyFloor after the
	// last query adds the link and a loaded listener to that, and
	// settleAfter is the quiet after an answer that ends the round.
	replyFloor  = 400 * time.Millisecond
	settleAfter = 250 * time.Millisecond
	// maxRound bounds a round that keeps hearing answers when ctx does
	// not end it sooner.
	maxRound = 3 * time.Second
)

// Discoverer asks a link for Services with one query (QU bit set, from an
// ephemeral port, so answers come back unicast) and emits one observation
// per answering host and datagram until ctx ends.
type Discoverer struct {
	Services []string       // Services when nil
	Dest     netip.AddrPort // Group when zero; tests aim it at a loopback responder
	Now      func() time.Time
	Log      *slog.Logger
}

// Name is "mdns".
func (d *Discoverer) Name() string { return "mdns" }

// Query builds the question for the given service types.
func Query(services []string) *dns.Msg {
	m := new(dns.Msg)
	m.Id = 0 // RFC 6762 §18.1
	for _, s := range services {
		// The top bit of the class asks for a unicast response (QU).
		m.Question = append(m.Question, dns.Question{Name: dns.Fqdn(s + ".local"), Qtype: dns.TypePTR, Qclass: dns.ClassINET | 1<<15})
	}
	return m
}

// Discover sends the query on l and reads answers until ctx ends.
func (d *Discoverer) Discover(ctx context.Context, l probes.Link, emit probes.Sink) error {
	if !l.Addr.Is4() || len(l.Subnets) == 0 {
		return errors.New("mdns: discover needs the link's IPv4 address and subnets")
	}
	dest := d.Dest
	if !dest.IsValid() {
		dest = Group
	}
	services := d.Services
	if services == nil {
		services = Services
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, round := probes.Quiet{Floor: replyFloor, Settle: settleAfter, Max: maxRound}.Start(ctx)
	defer round.Stop()
	cancel := round.Stop
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp4", netip.AddrPortFrom(l.Addr, 0).String())
	if err != nil {
		return fmt.Errorf("mdns: listen on %s: %w", l.Addr, err)
	}
	defer pc.Close()
	if dest.Addr().IsMulticast() {
		p := ipv4.NewPacketConn(pc)
		if l.Iface != nil {
			if err := p.SetMulticastInterface(l.Iface); err != nil {
				return fmt.Errorf("mdns: multicast interface %s: %w", l.Iface.Name, err)
			}
		}
		_ = p.SetMulticastTTL(255)
		_ = p.SetMulticastLoopback(false)
	}
	q, err := Query(services).Pack()
	if err != nil {
		return fmt.Errorf("mdns: pack query: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	// Resends run beside the read loop; both end with ctx.
	sendErr := make(chan error, 1)
	round.Sending()
	go func() {
		defer round.Sent()
		t := time.NewTimer(0)
		defer t.Stop()
		for i := range resends {
			select {
			case <-ctx.Done():
				sendErr <- nil
				return
			case <-t.C:
			}
			if _, err := pc.WriteTo(q, net.UDPAddrFromAddrPort(dest)); err != nil && ctx.Err() == nil {
				sendErr <- fmt.Errorf("mdns: send query to %s: %w", dest, err)
				return
			}
			if i+1 < resends {
				t.Reset(resendGap)
			}
		}
		sendErr <- nil
	}()
	buf := make([]byte, probes.MaxPayload+1)
	for range maxReplies {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("mdns: read: %w", err)
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		ip := ua.AddrPort().Addr().Unmap()
		if !probes.InSubnets(ip, l.Subnets) {
			continue // not from the link we were asked to look at
		}
		m, err := Parse(buf[:n])
		if err != nil {
			log.Debug("mdns reply", "from", ip, "err", err)
			continue
		}
		facts, err := Facts(m)
		round.Heard() // an answer, useful or not: the link is still talking
		if err != nil || len(facts) == 0 {
			continue
		}
		emit(probes.Observation{Time: now(), IP: ip, Probe: "mdns", Facts: facts})
	}
	cancel()
	return <-sendErr
}
