package app

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
)

// startInventory opens the persisted inventory and starts the pipeline that
// merges observations into it and classifies, decides and reports every
// change. The classifier reads the signatures of the policy snapshot in
// force at each call.
func (d *daemon) startInventory() error {
	evctx := context.WithoutCancel(d.ctx)
	inv, err := inventory.Open(inventory.Options{Path: filepath.Join(d.cfg.StateDir, "inventory.db"),
		MaxDevices: d.cfg.Inventory.MaxDevices, Now: d.now, Log: d.log,
		// Evictions happen inside Merge, on the pipeline's goroutine, once
		// the pipeline exists.
		OnEvict: func(mac string) { d.pipe.Evicted(evctx, mac) }})
	if err != nil {
		return err
	}
	d.inv = inv
	d.onClose(func() {
		if err := inv.Close(); err != nil {
			d.log.Error("inventory close", "err", err)
		}
	})
	d.pipe = NewPipeline(&Pipeline{Inv: inv, Enforcer: d.enf, Reporter: d.rep, GoneAfter: d.cfg.Inventory.GoneAfter,
		Now: d.now, Log: d.log, Classify: d.classify, OnAddress: d.enqueue, OnAnnounce: d.announce})
	d.goRun(func(ctx context.Context) error {
		// Devices persisted by an earlier run are reported (and given to
		// the enforcer, present or not) before anything new arrives, so
		// state.json, status and explain know the same devices.
		d.pipe.Republish(ctx)
		return d.pipe.Run(ctx, time.Second, d.cfg.Inventory.ForgetAfter)
	})
	d.goRun(func(ctx context.Context) error { return flushLoop(ctx, inv, d.log) })
	return nil
}

// classify applies the signatures of the policy snapshot in force.
func (d *daemon) classify(mac net.HardwareAddr, f []probes.Fact) classify.Verdict {
	return classify.Classify(d.settings.Load().Signatures, classify.Input{MAC: mac, Facts: f})
}

func flushLoop(ctx context.Context, inv *inventory.Inventory, log *slog.Logger) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := inv.Flush(); err != nil {
				log.Error("inventory flush", "err", err)
			}
		}
	}
}
