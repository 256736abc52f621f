package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes/classify"
)

// startEnforcer builds the enforcer with the local policy. It comes before
// anything that sees devices: it re-applies a persisted cut at once, so a
// crash, SIGKILL or power cut never lifts it.
func (d *daemon) startEnforcer() error {
	local, err := PolicyFromConfig(d.cfg.Policy)
	if err != nil {
		return err
	}
	d.settings.Store(&Settings{Enforce: local, Signatures: classify.Default()})
	evctx := context.WithoutCancel(d.ctx)
	rep := d.rep
	enf, rerr := enforce.New(enforce.Options{Board: d.board, Now: d.now,
		StateFile: filepath.Join(d.cfg.StateDir, "relay.json"), Log: d.log, Policy: &local,
		OnEvent: func(e report.Event) {
			if err := rep.Event(evctx, e); err != nil {
				d.log.Error("report event", "type", e.Type, "err", err)
			}
		}})
	if enf == nil {
		return fmt.Errorf("enforcement: %w", rerr)
	}
	if rerr != nil {
		d.log.Error("relay state could not be read; uplink kept cut until acknowledged", "err", rerr)
	}
	d.enf = enf
	d.goRun(enf.Run)
	if len(d.cfg.Interfaces) == 0 {
		_, why := d.cfg.Active()
		d.log.Warn("unconfigured: " + why + "; set interfaces in the configuration file and restart. " +
			"LEDs show 'unconfigured' (power slow blink); no probing, no relay action.")
		enf.SetHealth(enforce.HealthStarting)
	}
	d.startUplinkLoops()
	return nil
}
