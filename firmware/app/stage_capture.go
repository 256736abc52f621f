package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
)

// captureStats keeps a live capture's kernel counters readable after the
// socket is gone.
type captureStats struct {
	src  *capture.Live
	mu   sync.Mutex
	last capture.Stats
}

func (c *captureStats) counts() (packets, drops uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, err := c.src.Stats(); err == nil {
		c.last = st
	}
	return c.last.Packets, c.last.Drops
}

// startCapture resolves the configured interfaces and starts one capture
// per link, feeding the passive decoders. Every capture loop must keep
// running: the watchdog stops the keepalives when one ends. With no
// interface configured the appliance stays unconfigured: nothing is
// captured, probed or cut.
func (d *daemon) startCapture() error {
	if len(d.cfg.Interfaces) == 0 {
		return nil
	}
	links, err := ResolveLinks(d.cfg.Interfaces)
	if err != nil {
		return err
	}
	d.links = links
	d.reg = Registry(d.cfg.Probing, d.log)
	var running atomic.Int64
	for i, l := range links {
		src, err := capture.Open(capture.Options{Iface: l.Iface.Name, Promiscuous: d.cfg.Interfaces[i].Promiscuous})
		if err != nil {
			return fmt.Errorf("capture on %s: %w", l.Iface.Name, err)
		}
		d.captures = append(d.captures, &captureStats{src: src})
		running.Add(1)
		d.goRun(func(ctx context.Context) error {
			defer src.Close()
			_, err := capture.Run(ctx, src, d.reg, d.passiveSink, d.log)
			running.Add(-1)
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("capture on %s stopped: %w", l.Iface.Name, err)
		})
	}
	d.wd.Register("capture", func() error {
		if running.Load() < int64(len(links)) {
			return errors.New("a capture loop has stopped")
		}
		return nil
	})
	d.enf.SetHealth(enforce.HealthOK)
	return nil
}

// passiveSink marks what capture decoded as said unasked.
func (d *daemon) passiveSink(o probes.Observation) {
	o.Passive = true
	d.sink(o)
}

// sink takes observations from capture and probes: they light the activity
// LED and go to the pipeline.
func (d *daemon) sink(o probes.Observation) {
	d.enf.Activity()
	d.pipe.Sink(o)
}
