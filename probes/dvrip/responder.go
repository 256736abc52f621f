package dvrip

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
)

// Responder answers DVRIP discovery searches with Reply, sent back to the
// asker's address and port.
type Responder struct {
	Reply Reply
	Log   *slog.Logger
}

// Serve reads searches from conn until ctx ends. It never closes conn.
func (r *Responder) Serve(ctx context.Context, conn net.PacketConn) error {
	log := logger(r.Log)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 2048)
	reply := r.Reply.Marshal()
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
		if !IsSearch(buf[:n]) {
			continue
		}
		if _, err := conn.WriteTo(reply, from); err != nil {
			log.Debug("dvrip responder: send", "to", from, "err", err)
		}
	}
}
