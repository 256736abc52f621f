package dvrip

import (
	"context"
	"log/slog"
	"net"

	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// Responder answers DVRIP discovery searches with Reply, sent back to the
// asker's address and port.
type Responder struct {
	Reply Reply
	Log   *slog.Logger
}

// Serve reads searches from conn until ctx ends. It never closes conn.
func (r *Responder) Serve(ctx context.Context, conn net.PacketConn) error {
	log := udpdisc.Logger(r.Log)
	reply := r.Reply.Marshal()
	return udpdisc.Serve(ctx, conn, 2048, func(b []byte, from net.Addr) {
		if !IsSearch(b) {
			return
		}
		if _, err := conn.WriteTo(reply, from); err != nil {
			log.Debug("dvrip responder: send", "to", from, "err", err)
		}
	})
}
