package camsim

import (
	"context"
	"log/slog"

	"github.com/camwarden/camwarden/probes/xm"
)

func init() {
	register("xm", service{
		enabled: func(p *Profile) bool { return p.XM },
		start:   serveXM,
	})
}

// serveXM runs the NetSurveillance service on TCP 34567(+offset).
func serveXM(ctx context.Context, _ *Profile, h Host, log *slog.Logger) error {
	ln, err := listenTCP(ctx, h, xm.Port)
	if err != nil {
		return err
	}
	return (&xm.Responder{Log: log}).Serve(ctx, ln)
}
