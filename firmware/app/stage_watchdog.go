package app

import (
	"time"

	"github.com/camwarden/camwarden/firmware/enforce/watchdog"
)

// Health checks behind every keepalive: systemd (and the hardware watchdog,
// when configured) restart the daemon when one of them stops passing.
const (
	enforcerStall = 10 * time.Second // the enforcer ticks every second
	pipelineStall = 10 * time.Second // the pipeline turns at least every second
)

// startWatchdog opens the watchdog and registers the loops that must keep
// turning: the enforcer (it alone may cut) and the pipeline (a stuck
// pipeline sees nothing new while telling systemd all is well). The capture
// stage registers its own check; keepalives start once everything is up
// (daemon.run).
func (d *daemon) startWatchdog() error {
	wd, err := watchdog.New(watchdog.Options{Device: d.cfg.Watchdog.Hardware, Log: d.log})
	if err != nil {
		return err
	}
	d.wd = wd
	d.onClose(func() { wd.Close() })
	wd.Register("enforcement loop", watchdog.Fresh(d.enf.LastTurn, enforcerStall, d.now))
	wd.Register("pipeline", pipelineCheck(d.pipe, pipelineStall, d.now))
	return nil
}

// pipelineCheck fails when the pipeline has not turned within stall.
func pipelineCheck(p *Pipeline, stall time.Duration, now func() time.Time) watchdog.Check {
	return watchdog.Fresh(p.LastTurn, stall, now)
}
