package camsim

import (
	"context"
	"log/slog"

	"github.com/camwarden/camwarden/probes/telnet"
)

func init() {
	register("telnet", service{
		enabled: func(p *Profile) bool { return p.Telnet != nil },
		start: func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
			port := p.Telnet.Port
			if port == 0 {
				port = telnet.DefaultPort
			}
			ln, err := listenTCP(ctx, h, port)
			if err != nil {
				return err
			}
			r := &telnet.Responder{Banner: p.Expand(p.Telnet.Banner, h.MAC), Log: log}
			return r.Serve(ctx, ln)
		},
	})
}
