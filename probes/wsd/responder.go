package wsd

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

// Responder answers Probes as a camera's WS-Discovery target would. It is
// the emulation half of the package, used by camsim.
type Responder struct {
	Target Target
	// OnlyNVT answers only Probes that ask for NetworkVideoTransmitter, as
	// some cameras do (untyped Probes get nothing).
	OnlyNVT bool
	// Twice sends each ProbeMatch twice with the same MessageID
	// (UNICAST_UDP_REPEAT), as wsdd and many cameras do.
	Twice bool
	// ReplyFrom, when set, opens the socket each reply is sent from, for
	// devices that answer from an ephemeral port. The socket is closed
	// after the reply.
	ReplyFrom func() (net.PacketConn, error)
	// MaxDelay bounds the random delay before a reply (APP_MAX_DELAY is
	// 500 ms in the spec; tests use less).
	MaxDelay time.Duration
	Log      *slog.Logger

	mu  sync.Mutex
	seq Sequence
}

func (r *Responder) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// build runs a builder with the responder's AppSequence under its lock, so
// concurrent replies number their messages distinctly.
func (r *Responder) build(f func(*Sequence) []byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seq.InstanceID == 0 {
		r.seq.InstanceID = uint32(time.Now().Unix())
	}
	return f(&r.seq)
}

// targetTypes resolves the Target's Types with the customary prefixes.
func (r *Responder) targetTypes() []xml.Name {
	var out []xml.Name
	for _, q := range strings.Fields(r.Target.Types) {
		p, l, ok := strings.Cut(q, ":")
		if !ok {
			out = append(out, xml.Name{Local: q})
			continue
		}
		out = append(out, xml.Name{Space: knownPrefixes[p], Local: l})
	}
	return out
}

// Matches reports whether the target answers Probe m: every type asked for
// is one of the target's (namespaces compared when both are known) and
// every scope asked for is a segment-wise prefix of one of its scopes.
func (r *Responder) Matches(m *Message) bool {
	if m.Kind != KindProbe {
		return false
	}
	if r.OnlyNVT {
		nvt := false
		for _, t := range m.ProbeTypes {
			nvt = nvt || t.Local == TypeNVT.Local
		}
		if !nvt {
			return false
		}
	}
	have := r.targetTypes()
	for _, want := range m.ProbeTypes {
		ok := false
		for _, h := range have {
			if h.Local == want.Local && (want.Space == "" || h.Space == "" || h.Space == want.Space) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	for _, want := range m.ProbeScopes {
		ok := false
		w := strings.TrimSuffix(want, "/")
		for _, s := range r.Target.Scopes {
			if strings.EqualFold(s, w) || strings.HasPrefix(strings.ToLower(s), strings.ToLower(w)+"/") {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Hello multicasts (or sends) the target's Hello to dst.
func (r *Responder) Hello(c net.PacketConn, dst net.Addr) error {
	_, err := c.WriteTo(r.build(func(s *Sequence) []byte { return BuildHello(NewMessageID(), s, r.Target) }), dst)
	return err
}

// Bye announces the target leaving.
func (r *Responder) Bye(c net.PacketConn, dst net.Addr) error {
	_, err := c.WriteTo(r.build(func(s *Sequence) []byte { return BuildBye(NewMessageID(), s, r.Target) }), dst)
	return err
}

// Serve answers Probes read from c until ctx ends. It does not close c.
func (r *Responder) Serve(ctx context.Context, c net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	// Bound the replies in flight so a Probe flood cannot pile up goroutines.
	sem := make(chan struct{}, 32)
	buf := make([]byte, MaxMessage)
	for {
		k, from, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		m, err := Parse(buf[:k])
		if err != nil || m.Kind != KindProbe || !r.Matches(m) {
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			r.log().Debug("wsd: too many replies in flight, probe dropped", "from", from)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.reply(ctx, c, from, m.MessageID)
		}()
	}
}

func (r *Responder) reply(ctx context.Context, c net.PacketConn, to net.Addr, relatesTo string) {
	if r.MaxDelay > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(rand.N(r.MaxDelay)):
		}
	}
	out := c
	if r.ReplyFrom != nil {
		eph, err := r.ReplyFrom()
		if err != nil {
			r.log().Warn("wsd: reply socket", "err", err)
			return
		}
		defer eph.Close()
		out = eph
	}
	msg := r.build(func(s *Sequence) []byte { return BuildProbeMatches(NewMessageID(), relatesTo, s, r.Target) })
	n := 1
	if r.Twice {
		n = 2
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			time.Sleep(udpMinDelay)
		}
		if _, err := out.WriteTo(msg, to); err != nil {
			r.log().Warn("wsd: send probe match", "to", to, "err", err)
			return
		}
	}
	r.log().Debug("wsd: answered probe", "to", to, "relates_to", relatesTo)
}
