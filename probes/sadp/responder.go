package sadp

import (
	"context"
	"log/slog"
	"net"
	"strings"

	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// Responder answers SADP inquiries like a Hikvision device: for each
// inquiry it sends Reply with the inquiry's Uuid echoed.
type Responder struct {
	Reply Reply
	// ReplyTo, when set, is where replies go (the group, as some firmware
	// does); otherwise they go back to the asker's address and port, which
	// is what the public SADP tools expect of real devices
	// (julienblitte/UniversalScanner protocols.html;
	// cameronnewman/hikvision-tooling internal/sadp/scanner.go).
	ReplyTo net.Addr
	Log     *slog.Logger
}

// Serve reads inquiries from conn until ctx ends. It never closes conn.
func (r *Responder) Serve(ctx context.Context, conn net.PacketConn) error {
	log := udpdisc.Logger(r.Log)
	return udpdisc.Serve(ctx, conn, MaxMessage+1, func(b []byte, from net.Addr) {
		if len(b) > MaxMessage || Kind(b) != "inquiry" {
			return
		}
		q, err := ParseInquiry(b)
		if err != nil || !strings.EqualFold(q.Types, "inquiry") {
			log.Debug("sadp responder: ignored", "from", from, "err", err)
			return
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
	})
}
