package app

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/classify"
)

// Analyze identifies the devices in a pcap/pcapng capture with the same
// passive decoders the daemon runs, and returns them as survey does.
func Analyze(ctx context.Context, path string, pol enforce.Policy, log *slog.Logger) ([]report.Device, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	reg := Registry(config.Probing{PassiveOnly: true}, log)
	inv, _ := inventory.Open(inventory.Options{MaxDevices: 1 << 20})
	sigs := classify.Default()
	p := NewPipeline(&Pipeline{Inv: inv, GoneAfter: 100 * 365 * 24 * time.Hour, Log: log,
		Classify: func(mac net.HardwareAddr, f []probes.Fact) classify.Verdict {
			return classify.Classify(sigs, classify.Input{MAC: mac, Facts: f})
		}})
	p.SetPolicy(pol)
	// A file is read as fast as it decodes: apply each observation as it
	// comes instead of through the bounded queue, so nothing is dropped.
	if _, err := capture.Run(ctx, src, reg, func(o probes.Observation) { p.handle(ctx, o) }, log); err != nil {
		return nil, err
	}
	var out []report.Device
	for _, d := range inv.All() {
		out = append(out, p.View(d))
	}
	return out, nil
}
