package dhip

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
)

// Responder answers DHDiscover.search like a Dahua device: the reply goes
// back to the asker's address and port (unicast), whether the search came
// by multicast or unicast.
type Responder struct {
	Reply Reply
	Log   *slog.Logger
}

// Serve reads searches from conn until ctx ends. It never closes conn.
func (r *Responder) Serve(ctx context.Context, conn net.PacketConn) error {
	log := logger(r.Log)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, HeaderSize+MaxBody+1)
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
		m, err := Parse(buf[:n])
		if err != nil || m.Method != MethodSearch {
			continue
		}
		if _, err := conn.WriteTo(reply, from); err != nil {
			log.Debug("dhip responder: send", "to", from, "err", err)
		}
	}
}
