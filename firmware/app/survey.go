package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
)

// SurveyOptions configures a one-shot survey.
type SurveyOptions struct {
	Iface    string
	Subnets  []string
	Duration time.Duration // upper bound; a survey ends early once every device is probed
	Passive  bool          // listen only, for the whole Duration
	Probing  config.Probing
	Policy   enforce.Policy
	Progress io.Writer // a status line is redrawn here; nil = none
	Log      *slog.Logger
	Now      func() time.Time
}

// quiet is how long a survey waits with nothing queued before it ends.
const quiet = 400 * time.Millisecond

// Survey identifies the devices on one link: it listens (when it can
// capture), sweeps, probes every device found, and returns the devices as
// the survey JSON describes them.
func Survey(ctx context.Context, o SurveyOptions) ([]report.Device, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	link, err := resolveLink(o.Iface, o.Subnets)
	if err != nil {
		return nil, err
	}
	o.Probing.PassiveOnly = o.Passive
	reg := Registry(o.Probing, o.Log)
	p := oneShotPipeline(o.Policy, time.Hour, o.Now, o.Log)
	inv := p.Inv
	s := newScheduler(o.Probing, reg, []probes.Link{link}, inv, p.Sink, o.Log)
	// unprobed holds the devices with an address whose probing has not
	// finished: the survey is not over while one is left, however quiet
	// the network (a device first seen by IPv6 or LLDP gets its address
	// late). Bounded by the inventory's size.
	var mu sync.Mutex
	unprobed := map[string]bool{}
	// ask queues d (every prober when names is nil) unless its address is
	// outside the subnets the survey may ask.
	ask := func(d inventory.Device, names []string) {
		if !probes.InSubnets(d.IP, link.Subnets) {
			return
		}
		mu.Lock()
		unprobed[d.MAC] = true
		mu.Unlock()
		if names == nil {
			s.Enqueue(d.MAC)
		} else {
			s.EnqueueProbes(d.MAC, names)
		}
	}
	p.OnAnnounce = ask
	p.OnAddress = func(d inventory.Device) { ask(d, nil) }
	s.Done = func(mac string, probed bool) {
		if probed {
			inv.MarkProbed(mac, o.Now())
		}
		mu.Lock()
		delete(unprobed, mac)
		mu.Unlock()
	}
	waiting := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(unprobed)
	}

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	go p.Run(bg, time.Hour, 0)
	go s.Run(bg)

	if src, err := capture.Open(capture.Options{Iface: o.Iface}); err != nil {
		o.Log.Warn("passive capture unavailable; surveying actively only", "iface", o.Iface, "err", err)
		if o.Passive {
			return nil, fmt.Errorf("survey --passive needs packet capture on %s: %w", o.Iface, err)
		}
	} else {
		go capture.Run(bg, src, reg, func(ob probes.Observation) { ob.Passive = true; p.Sink(ob) }, o.Log)
		defer src.Close()
	}

	start := o.Now()
	progress := func(phase string) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "\r\033[K%-10s %3d devices, %3d probed, %4.1fs", phase, inv.Len(), s.Probed(),
				o.Now().Sub(start).Seconds())
		}
	}
	if !o.Passive {
		progress("sweeping")
		done := make(chan struct{})
		go func() { s.Sweep(ctx); close(done) }()
		tick := time.NewTicker(200 * time.Millisecond)
	sweep:
		for {
			select {
			case <-done:
				break sweep
			case <-tick.C:
				progress("sweeping")
			}
		}
		tick.Stop()
	}
	idleSince := time.Time{}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-tick.C:
			progress("probing")
			if o.Passive {
				continue
			}
			if s.Idle() && len(p.in) == 0 && waiting() == 0 {
				if idleSince.IsZero() {
					idleSince = time.Now()
				} else if time.Since(idleSince) > quiet {
					break wait
				}
			} else {
				idleSince = time.Time{}
			}
		}
	}
	if o.Progress != nil {
		progress("done")
		fmt.Fprintln(o.Progress)
	}
	stop()
	p.Drain(context.Background())
	out := p.Devices()
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return out, err
	}
	return out, nil
}

// targetFrom builds probe targets from the inventory's current knowledge.
func targetFrom(inv *inventory.Inventory) func(mac string) (probes.Target, bool) {
	return func(mac string) (probes.Target, bool) {
		d, ok := inv.Get(mac)
		if !ok || !d.IP.IsValid() {
			return probes.Target{}, false
		}
		return probes.Target{MAC: d.HardwareAddr(), IP: d.IP, Facts: d.ProbeFacts()}, true
	}
}
