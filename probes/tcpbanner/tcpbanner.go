package tcpbanner

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// Limits.
const (
	MaxReply       = 64 // bytes of reply kept
	DefaultTimeout = 2 * time.Second
)

// DefaultPorts are the SDK ports whose first reply bytes name the family.
var DefaultPorts = []int{8000, 37777}

// hello is what the prober sends: both SDK servers answer any bytes, and
// zeros are the least likely to mean anything to an unrelated service.
var hello = make([]byte, 32)

// DialFunc opens a connection; tests inject one that maps ports.
type DialFunc = probes.DialFunc

// Prober reads the banners of a host's SDK ports.
type Prober struct {
	Ports   []int         // DefaultPorts when nil
	Timeout time.Duration // per port; DefaultTimeout when 0
	Dial    DialFunc
	Now     func() time.Time
}

// New returns the "tcpbanner" prober for DefaultPorts.
func New() *Prober { return &Prober{} }

// Name is "tcpbanner".
func (p *Prober) Name() string { return "tcpbanner" }

// Probe emits tcp.<port>=<hex> for every port that answered with at least
// one byte; closed or silent ports emit nothing. It returns an error only
// when ctx ended.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	ports := p.Ports
	if ports == nil {
		ports = DefaultPorts
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	var facts []probes.Fact
	defer func() {
		if len(facts) > 0 {
			emit(probes.Observation{Time: now(), MAC: t.MAC, IP: t.IP, Probe: "tcpbanner", Facts: facts})
		}
	}()
	for _, port := range ports {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("tcpbanner: %s: %w", t.IP, err)
		}
		b, err := p.grab(ctx, netip.AddrPortFrom(t.IP, uint16(port)).String())
		if len(b) > 0 {
			facts = append(facts, probes.F("tcp."+strconv.Itoa(port), hex.EncodeToString(b)))
		}
		_ = err // a closed or silent port is an answer, not a failure
	}
	return nil
}

// Grab connects to addr, sends the hello and returns up to MaxReply bytes
// read before the deadline.
func (p *Prober) grab(ctx context.Context, addr string) ([]byte, error) {
	ctx, c, release, err := probes.DialWithin(ctx, p.Dial, addr, cmp.Or(p.Timeout, DefaultTimeout))
	if err != nil {
		return nil, err
	}
	defer release()
	if _, err := c.Write(hello); err != nil {
		return nil, err
	}
	buf := make([]byte, MaxReply)
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	// A reply may arrive in pieces, and servers keep the connection open
	// after it: wait a moment for the rest rather than the whole timeout.
	probes.Settle(ctx, c, settle)
	m, _ := io.ReadFull(c, buf[n:])
	return buf[:n+m], nil
}

// settle is how long to wait for more bytes after the first ones arrived.
const settle = 150 * time.Millisecond

// Responder answers every connection's first bytes with Reply, like the
// Hikvision and Dahua SDK ports do, then closes it.
type Responder struct {
	Reply []byte
	Log   *slog.Logger
}

// Serve answers connections on ln until ctx ends; it returns nil then.
func (r *Responder) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tcpbanner responder: accept on %s: %w", ln.Addr(), err)
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 512)
			if _, err := c.Read(buf); err != nil {
				return
			}
			_, _ = c.Write(r.Reply)
		}()
	}
}
