package dhip

import (
	"context"
	"log/slog"
	"net"

	"github.com/camwarden/camwarden/probes/internal/udpdisc"
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
	log := udpdisc.Logger(r.Log)
	reply := r.Reply.Marshal()
	return udpdisc.Serve(ctx, conn, HeaderSize+MaxBody+1, func(b []byte, from net.Addr) {
		m, err := Parse(b)
		if err != nil || m.Method != MethodSearch {
			return
		}
		if _, err := conn.WriteTo(reply, from); err != nil {
			log.Debug("dhip responder: send", "to", from, "err", err)
		}
	})
}
