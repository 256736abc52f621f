package camsim

import (
	"context"
	"log/slog"

	"github.com/camwarden/camwarden/probes/rtsp"
)

func init() {
	register("rtsp", service{
		enabled: func(p *Profile) bool { return p.RTSP != nil },
		start: func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
			port := p.RTSP.Port
			if port == 0 {
				port = rtsp.DefaultPort
			}
			ln, err := listenTCP(ctx, h, port)
			if err != nil {
				return err
			}
			r := &rtsp.Responder{
				Server: p.Expand(p.RTSP.Server, h.MAC),
				Realm:  p.Expand(p.RTSP.Realm, h.MAC),
				Public: p.RTSP.Public,
				Log:    log,
			}
			return r.Serve(ctx, ln)
		},
	})
}
