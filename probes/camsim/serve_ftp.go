package camsim

import (
	"context"
	"log/slog"

	"github.com/camwarden/camwarden/probes/ftp"
)

func init() {
	register("ftp", service{
		enabled: func(p *Profile) bool { return p.FTP != nil },
		start: func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
			port := p.FTP.Port
			if port == 0 {
				port = ftp.DefaultPort
			}
			ln, err := listenTCP(ctx, h, port)
			if err != nil {
				return err
			}
			r := &ftp.Responder{Banner: p.Expand(p.FTP.Banner, h.MAC), Log: log}
			return r.Serve(ctx, ln)
		},
	})
}
