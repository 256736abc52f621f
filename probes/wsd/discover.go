package wsd

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/camwarden/camwarden/probes"
)

// Timing of SOAP-over-UDP retransmission as WS-Discovery (2005/04,
// appendix I) sets it: a multicast message is repeated MULTICAST_UDP_REPEAT
// times, the first gap drawn from [UDP_MIN_DELAY, UDP_MAX_DELAY] and each
// next one doubled up to UDP_UPPER_DELAY.
const (
	MulticastRepeat = 2
	udpMinDelay     = 50 * time.Millisecond
	udpMaxDelay     = 250 * time.Millisecond
	udpUpperDelay   = 500 * time.Millisecond
	// appMaxDelay is the longest a Target Service waits before answering
	// a multicast Probe (APP_MAX_DELAY); replyFloor adds the link's
	// crossing and a loaded listener's scheduling to it.
	appMaxDelay = 500 * time.Millisecond
	replyFloor  = appMaxDelay + 100*time.Millisecond
	// settleAfter is the quiet after a ProbeMatch that ends the round:
	// devices answer each of our Probe variants and repeat each answer
	// (UNICAST_UDP_REPEAT), a little apart.
	settleAfter = 250 * time.Millisecond
)

// DefaultProbes are the Probe variants a Discoverer sends: ONVIF cameras
// typed (some answer nothing else), untyped (some reject the typed form),
// and DPWS wsdp:Device, so Windows/Samba hosts on the camera VLAN are seen
// for what they are rather than missed.
var DefaultProbes = [][]xml.Name{{TypeNVT}, nil, {TypeDPWSDev}}

// Discoverer multicasts Probes on a link and reports every target that
// answers. The zero value is ready to use.
type Discoverer struct {
	// Probes are the variants sent (nil entry: untyped); DefaultProbes when empty.
	Probes [][]xml.Name
	// Repeat is how often each Probe is retransmitted (same MessageID);
	// MulticastRepeat when 0, none when negative. Capped at 4.
	Repeat int
	// Wait is the longest to listen after the last Probe went out; 2s
	// when 0. The round ends sooner once answers stop: ONVIF devices
	// answer within APP_MAX_DELAY (500 ms) of a Probe, so it lasts
	// replyFloor after the last Probe and settleAfter after the last
	// ProbeMatch.
	Wait time.Duration
	// Group is where Probes go; 239.255.255.250:3702 when zero.
	Group netip.AddrPort
	Log   *slog.Logger
	// NewID makes MessageIDs; NewMessageID when nil.
	NewID func() string
	Now   func() time.Time
}

// Name implements probes.Discoverer.
func (d *Discoverer) Name() string { return "wsd" }

// Discover sends the Probes from an ephemeral port on l.Addr out of
// l.Iface and emits one observation per (sender, endpoint) whose
// ProbeMatches relate to one of our Probes, whatever port they come from. It
// returns when Wait has passed after the last Probe or ctx ends.
func (d *Discoverer) Discover(ctx context.Context, l probes.Link, emit probes.Sink) error {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	newID := d.NewID
	if newID == nil {
		newID = NewMessageID
	}
	variants := d.Probes
	if len(variants) == 0 {
		variants = DefaultProbes
	}
	repeat := d.Repeat
	switch {
	case repeat == 0:
		repeat = MulticastRepeat
	case repeat < 0:
		repeat = 0
	case repeat > 4:
		repeat = 4
	}
	wait := d.Wait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	group := d.Group
	if !group.IsValid() {
		group = netip.AddrPortFrom(netip.MustParseAddr(Group), Port)
	}
	if l.Iface == nil || !l.Addr.Is4() {
		return fmt.Errorf("wsd: discover: link needs an interface and an IPv4 address")
	}

	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.Addr, 0)))
	if err != nil {
		return fmt.Errorf("wsd: listen on %s: %w", l.Addr, err)
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetMulticastInterface(l.Iface); err != nil {
		return fmt.Errorf("wsd: multicast interface %s: %w", l.Iface.Name, err)
	}
	// Discovery is link-local: never let a Probe be routed.
	_ = pc.SetMulticastTTL(1)
	_ = pc.SetMulticastLoopback(false)

	ids := make(map[string]bool, len(variants))
	msgs := make([][]byte, len(variants))
	for i, v := range variants {
		id := newID()
		ids[id] = true
		msgs[i] = BuildProbe(id, v...)
	}

	// The round ends once the last Probe is replyFloor old and the last
	// answer settleAfter old, or Wait after the whole send schedule (at
	// most udpMaxDelay+udpUpperDelay*(repeat-1)) at the latest.
	rctx, round := probes.Quiet{Floor: min(replyFloor, wait), Settle: settleAfter,
		Max: wait + udpMaxDelay + udpUpperDelay*time.Duration(repeat)}.Start(ctx)
	defer round.Stop()
	stopRead := context.AfterFunc(rctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stopRead()
	round.Sending()
	sendDone := make(chan struct{})
	var sendErr error
	go func() {
		defer close(sendDone)
		defer round.Sent()
		delay := udpMinDelay + rand.N(udpMaxDelay-udpMinDelay)
		dst := net.UDPAddrFromAddrPort(group)
		for r := 0; r <= repeat; r++ {
			if r > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(delay):
				}
				delay = min(2*delay, udpUpperDelay)
			}
			for _, m := range msgs {
				if _, err := c.WriteToUDP(m, dst); err != nil {
					sendErr = fmt.Errorf("wsd: send probe to %s via %s: %w", group, l.Iface.Name, err)
					return
				}
			}
		}
	}()

	seenMsg := map[string]bool{}
	seenEP := map[string]bool{}
	buf := make([]byte, MaxMessage)
	const maxDatagrams = 4096 // a flood must not keep us busy forever
	for n := 0; n < maxDatagrams; n++ {
		k, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			return fmt.Errorf("wsd: read replies on %s: %w", l.Addr, err)
		}
		src := from.Addr().Unmap()
		if !probes.InSubnets(src, l.Subnets) {
			log.Debug("wsd: reply from outside the link's subnets ignored", "from", from)
			continue
		}
		m, err := Parse(buf[:k])
		if err != nil {
			log.Debug("wsd: unparsable reply", "from", from, "err", err)
			continue
		}
		if m.Kind != KindProbeMatches || !ids[m.RelatesTo] {
			continue
		}
		round.Heard()
		// Devices repeat each ProbeMatch (UNICAST_UDP_REPEAT) with the same
		// MessageID, and answer each of our Probe variants.
		if m.MessageID != "" {
			if seenMsg[m.MessageID] {
				continue
			}
			seenMsg[m.MessageID] = true
		}
		for _, e := range m.Endpoints {
			key := src.String() + " " + e.Address
			if seenEP[key] {
				continue
			}
			seenEP[key] = true
			emit(probes.Observation{Time: now(), IP: src, Probe: "wsd", Facts: e.Facts()})
		}
	}
	<-sendDone
	if sendErr != nil && ctx.Err() == nil {
		return sendErr
	}
	return nil
}
