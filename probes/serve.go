package probes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
)

// ServeConns is the accept loop of a TCP responder (the emulated side of a
// protocol): it runs handle on each connection on ln until ctx ends, then
// closes ln, closes the open connections and waits for their handlers, and
// returns nil. Closing on ctx is what keeps an idle keep-alive client from
// holding Serve open. name prefixes errors and log lines ("http responder").
// A handler's error is logged at debug level, once, with the peer.
func ServeConns(ctx context.Context, ln net.Listener, name string, log *slog.Logger, handle func(net.Conn) error) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("%s: accept on %s: %w", name, ln.Addr(), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			stopConn := context.AfterFunc(ctx, func() { c.Close() })
			defer stopConn()
			defer c.Close()
			if err := handle(c); err != nil && ctx.Err() == nil {
				log.Debug(name+": connection", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
}
