package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/arp"
	"github.com/camwarden/camwarden/probes/classify"
	"golang.org/x/time/rate"
)

// newScheduler builds the active prober from the probing settings, the same
// way for the daemon and for a survey.
func newScheduler(p config.Probing, reg *probes.Registry, links []probes.Link, inv *inventory.Inventory,
	sink probes.Sink, log *slog.Logger) *Scheduler {
	s := &Scheduler{Probers: reg.Probers, Discoverers: reg.Discoverers, Links: links, Sink: sink,
		Concurrency: p.Concurrency, PerHost: p.PerHost, Timeout: p.Timeout, Discovery: p.Discovery,
		Limiter: rate.NewLimiter(rate.Limit(p.RatePPS), p.RatePPS), Log: log, Target: targetFrom(inv),
		Followup: recorderFollowup, Spoke: spokeSince(inv)}
	// The sweep measures each host's round trip; unicast asks wait by it.
	for _, d := range reg.Discoverers {
		if sw, ok := d.(*arp.Sweeper); ok {
			sw.RTT = s.rtts.note
		}
	}
	return s
}

// startProbing starts active probing on the captured links, when the
// configuration allows it: a device is probed as soon as it has an
// address, again while it is not yet identified with strong confidence
// (DefaultRetry), and every link is swept at start and every sweep
// interval. The policy snapshot can switch probes off and change the
// interval while running.
func (d *daemon) startProbing() error {
	active, why := d.cfg.Active()
	if !active || len(d.links) == 0 {
		if len(d.cfg.Interfaces) > 0 {
			d.log.Info("active probing off: " + why)
		}
		return nil
	}
	s := newScheduler(d.cfg.Probing, d.reg, d.links, d.inv, d.sink, d.log)
	s.Allowed = d.probeAllowed
	s.Interval = d.sweepInterval
	s.Done = func(mac string, probed bool) {
		if probed {
			d.inv.MarkProbed(mac, d.now())
		}
	}
	s.Again = func(mac string) bool {
		dev, ok := d.inv.Get(mac)
		if !ok {
			return false
		}
		return d.classify(dev.HardwareAddr(), dev.ProbeFacts()).Confidence < classify.Strong
	}
	s.Retry = DefaultRetry
	// The start-up sweep's rounds open before any known host is queued.
	s.OpenRounds()
	d.sched.Store(s)
	// Devices that already had an address (persisted by an earlier run, or
	// seen by capture a moment ago) are probed too.
	for _, dev := range d.inv.All() {
		if dev.IP.IsValid() && d.inScope(dev) {
			s.Enqueue(dev.MAC)
		}
	}
	// Workers start before the start-up sweep, so a host is probed the
	// moment the sweep (or capture) finds it.
	d.goRun(s.Run)
	d.goRun(func(ctx context.Context) error { s.Sweep(ctx); return nil })
	return nil
}

// enqueue is the pipeline's OnAddress: it hands a newly addressed device to
// the scheduler, once probing has started.
func (d *daemon) enqueue(dev inventory.Device) {
	if s := d.sched.Load(); s != nil && d.inScope(dev) {
		s.Enqueue(dev.MAC)
	}
}

// inScope says whether dev's address is inside the subnets the installer
// scoped a link to: a host seen on the link with an address outside them
// is listed (passively) but never asked anything.
func (d *daemon) inScope(dev inventory.Device) bool {
	for _, l := range d.links {
		if len(l.Subnets) > 0 && probes.InSubnets(dev.IP, l.Subnets) {
			return true
		}
	}
	return false
}

// announce is the pipeline's OnAnnounce: a targeted round for the services
// a device just announced.
func (d *daemon) announce(dev inventory.Device, names []string) {
	if s := d.sched.Load(); s != nil && d.inScope(dev) {
		s.EnqueueProbes(dev.MAC, names)
	}
}

// spokeSince answers Scheduler.Spoke from the inventory: did the device
// answer probe at or after since? Every SADP, DHIP and DVRIP answer
// carries <probe>.seen=reply; the device's own inquiry (an NVR or an
// installer's tool searching the VLAN) is sadp.seen=inquiry, no answer.
func spokeSince(inv *inventory.Inventory) func(mac, probe string, since time.Time) bool {
	key := func(probe string) string { return probe + ".seen" }
	return func(mac, probe string, since time.Time) bool {
		d, ok := inv.Get(mac)
		if !ok {
			return false
		}
		for _, f := range d.Facts {
			if f.Probe == probe && f.Key == key(probe) && f.Value == "reply" && !f.Last.Before(since) {
				return true
			}
		}
		return false
	}
}
