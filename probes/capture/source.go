package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// ErrUnsupported is returned by Open on platforms without AF_PACKET.
var ErrUnsupported = errors.New("capture: live capture needs Linux AF_PACKET")

// ErrClosed is returned by ReadPacket after Close.
var ErrClosed = errors.New("capture: source closed")

// Source delivers captured Ethernet frames one at a time.
type Source interface {
	// ReadPacket blocks for the next frame. It returns io.EOF at the end of
	// a file and ErrClosed (or a deadline error) once the source is closed.
	// Packet.Data is only valid until the next call.
	ReadPacket() (Packet, error)
	Close() error
}

// deadliner is implemented by live sources, so Run can unblock a read when
// its context ends without closing a source it does not own.
type deadliner interface {
	SetReadDeadline(time.Time) error
}

// RunStats counts what Run did.
type RunStats struct {
	Packets   uint64 // frames read from the source
	Malformed uint64 // frames Decode rejected
	Errors    uint64 // frames at least one decoder reported malformed
}

// Run reads src until ctx ends or the source is exhausted, decodes each frame
// and offers it to every decoder in reg; decoders emit into sink. It returns
// nil at the end of a file, ctx.Err() when cancelled, and the read error
// otherwise. Per-frame problems (malformed frames, decoder errors) are counted
// and logged at debug level, never fatal: a hostile device must not be able
// to stop the capture.
func Run(ctx context.Context, src Source, reg *probes.Registry, sink probes.Sink, log *slog.Logger) (RunStats, error) {
	var st RunStats
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if d, ok := src.(deadliner); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	var f probes.Frame
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		p, err := src.ReadPacket()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return st, nil
			}
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return st, fmt.Errorf("capture: read: %w", err)
		}
		st.Packets++
		if err := Decode(p, &f); err != nil {
			st.Malformed++
			log.Debug("capture: malformed frame", "err", err)
			continue
		}
		if err := reg.DecodeAll(&f, sink); err != nil {
			st.Errors++
			log.Debug("capture: decode", "src", f.Src, "err", err)
		}
	}
}
