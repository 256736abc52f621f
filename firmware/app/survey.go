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

// quiet is how long a survey waits, once discovery is over and nothing is
// queued or being probed, before it ends: long enough for an answer just
// read to pass through the pipeline and queue the device it names.
// Discovery itself has already waited for the link to go quiet.
const quiet = 150 * time.Millisecond

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
	// The active probes' answers wait for room in the pipeline's queue
	// instead of being dropped when it is full (the daemon's rule, which
	// keeps capture from stalling): a survey that drops an answer under
	// load misses a device. Capture keeps the dropping sink; what it would
	// lose, the sweep asks for.
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	activeSink := func(ob probes.Observation) {
		select {
		case p.in <- ob:
		case <-bg.Done():
		}
	}
	s := newScheduler(o.Probing, reg, []probes.Link{link}, inv, activeSink, o.Log)
	// unprobed holds the devices with an address whose probing has not
	// finished: the survey is not over while one is left, however quiet
	// the network (a device first seen by IPv6 or LLDP gets its address
	// late). Bounded by the inventory's size.
	var mu sync.Mutex
	unprobed := map[string]bool{}
	asked := map[string]bool{} // for the progress line's count
	// ask queues d (every prober when names is nil) unless its address is
	// outside the subnets the survey may ask.
	ask := func(d inventory.Device, names []string) {
		if !probes.InSubnets(d.IP, link.Subnets) {
			return
		}
		mu.Lock()
		unprobed[d.MAC] = true
		asked[d.MAC] = true
		mu.Unlock()
		o.Log.Debug("survey: asking", "mac", d.MAC, "ip", d.IP, "probes", names)
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
	probed := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(asked) - len(unprobed)
	}

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	ran := make(chan struct{})
	go func() { p.Run(bg, time.Hour, 0); close(ran) }()
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
	// The progress line: devices found, probed (every prober has had its
	// turn) and identified (a maker named), and the stage.
	progress := func(stage string) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "\r\033[K%-10s %3d found, %3d probed, %3d identified, %4.1fs", stage, inv.Len(), probed(),
				identified(p), o.Now().Sub(start).Seconds())
		}
	}
	if !o.Passive {
		progress("sweeping")
		done := make(chan struct{})
		go func() { s.Sweep(ctx); close(done); o.Log.Debug("survey: discovery over") }()
		tick := time.NewTicker(200 * time.Millisecond)
	sweep:
		for {
			select {
			case <-done:
				break sweep
			case <-tick.C:
				progress(s.Stage())
			}
		}
		tick.Stop()
	} else {
		progress("listening")
	}
	idleSince, lastDraw := time.Time{}, time.Time{}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-tick.C:
			if o.Passive {
				if o.Progress != nil && o.Now().Sub(lastDraw) >= 200*time.Millisecond {
					progress("listening")
					lastDraw = o.Now()
				}
				continue
			}
			if o.Progress != nil && o.Now().Sub(lastDraw) >= 200*time.Millisecond {
				progress("probing")
				lastDraw = o.Now()
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
	stop()
	<-ran // the pipeline's own loop is over before the rest is drained here
	p.Drain(context.Background())
	o.Log.Debug("survey: done", "devices", inv.Len(), "probed", probed(), "identified", identified(p),
		"dropped", p.Dropped(), "took", o.Now().Sub(start).Round(time.Millisecond))
	if p.Dropped() > 0 {
		o.Log.Warn("survey: the pipeline's queue overflowed; some passively heard frames were not read", "dropped", p.Dropped())
	}
	if o.Progress != nil {
		progress("done")
		fmt.Fprintln(o.Progress)
	}
	out := p.Devices()
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return out, err
	}
	return out, nil
}

// identified counts the devices whose last verdict names a maker.
func identified(p *Pipeline) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, d := range p.last {
		if d.Maker != "" {
			n++
		}
	}
	return n
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
