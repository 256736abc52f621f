package app

import (
	"context"
	"errors"
	"fmt"
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
// passive decoders the daemon runs, and returns them as survey does. A
// damaged capture gives the devices seen before the damage together with
// the *capture.DamagedError that says where it is and how much was read:
// a capture cut short is still evidence, but nobody should take it for a
// whole one.
func Analyze(ctx context.Context, path string, pol enforce.Policy, log *slog.Logger) ([]report.Device, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	reg := Registry(config.Probing{PassiveOnly: true}, log)
	p := oneShotPipeline(pol, 100*365*24*time.Hour, time.Now, log)
	// A file is read as fast as it decodes: apply each observation as it
	// comes instead of through the bounded queue, so nothing is dropped.
	if _, err := capture.Run(ctx, src, reg, func(o probes.Observation) { p.handle(ctx, o) }, log); err != nil {
		if d := (*capture.DamagedError)(nil); errors.As(err, &d) {
			return p.Devices(), fmt.Errorf("%s: %w", path, d)
		}
		return nil, err
	}
	return p.Devices(), nil
}

// oneShotPipeline is the pipeline of a survey or an analysis: an in-memory
// inventory, the built-in signatures, a fixed policy and no enforcer or
// reporter.
func oneShotPipeline(pol enforce.Policy, goneAfter time.Duration, now func() time.Time, log *slog.Logger) *Pipeline {
	inv, _ := inventory.Open(inventory.Options{MaxDevices: 1 << 20, Now: now})
	sigs := classify.Default()
	p := NewPipeline(&Pipeline{Inv: inv, GoneAfter: goneAfter, Now: now, Log: log,
		Classify: func(mac net.HardwareAddr, f []probes.Fact) classify.Verdict {
			return classify.Classify(sigs, classify.Input{MAC: mac, Facts: f})
		}})
	p.SetPolicy(pol)
	return p
}

// Devices returns the view of every device in the inventory.
func (p *Pipeline) Devices() []report.Device {
	var out []report.Device
	for _, d := range p.Inv.All() {
		out = append(out, p.View(d))
	}
	return out
}
