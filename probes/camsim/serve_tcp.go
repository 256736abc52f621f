package camsim

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/camwarden/camwarden/probes/tcpbanner"
	"golang.org/x/sync/errgroup"
)

func init() {
	register("tcp", service{
		enabled: func(p *Profile) bool { return len(p.TCP) > 0 },
		start: func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
			g, ctx := errgroup.WithContext(ctx)
			for _, b := range p.TCP {
				reply, err := hex.DecodeString(b.Reply)
				if err != nil {
					return fmt.Errorf("port %d: reply: %w", b.Port, err)
				}
				ln, err := listenTCP(ctx, h, b.Port)
				if err != nil {
					return err
				}
				r := &tcpbanner.Responder{Reply: reply, Log: log}
				g.Go(func() error { return r.Serve(ctx, ln) })
			}
			return g.Wait()
		},
	})
}
