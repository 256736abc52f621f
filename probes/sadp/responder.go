package sadp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Responder answers SADP inquiries like a Hikvision device: for each
// inquiry it sends Reply with the inquiry's Uuid echoed.
type Responder struct {
	Reply Reply
	// ReplyTo, when set, is where replies go (the group, as cameras do);
	// otherwise they go back to the asker's address and port.
	ReplyTo net.Addr
	Log     *slog.Logger
}

// Serve reads inquiries from conn until ctx ends. It never closes conn.
func (r *Responder) Serve(ctx context.Context, conn net.PacketConn) error {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, MaxMessage+1)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if n > MaxMessage || Kind(buf[:n]) != "inquiry" {
			continue
		}
		q, err := ParseInquiry(buf[:n])
		if err != nil || !strings.EqualFold(q.Types, "inquiry") {
			log.Debug("sadp responder: ignored", "from", from, "err", err)
			continue
		}
		rep := r.Reply
		rep.UUID = q.UUID
		rep.Types = "inquiry"
		dst := from
		if r.ReplyTo != nil {
			dst = r.ReplyTo
		}
		if _, err := conn.WriteTo(rep.Marshal(), dst); err != nil {
			log.Debug("sadp responder: send", "to", dst, "err", err)
		}
	}
}
