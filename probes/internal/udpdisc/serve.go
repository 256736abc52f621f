package udpdisc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
)

// Serve is the read loop of an emulated device: it reads datagrams from conn
// into a buffer of bufSize bytes (a longer datagram arrives cut to it) and
// calls handle with each until ctx ends, then returns nil. A read error other
// than a timeout or a closed conn ends it with that error. It never closes
// conn; handle decides what to answer and sends it.
func Serve(ctx context.Context, conn net.PacketConn, bufSize int, handle func(b []byte, from net.Addr)) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, bufSize)
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
		handle(buf[:n], from)
	}
}

// Logger is l, or a logger that discards when l is nil.
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
