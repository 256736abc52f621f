package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/camwarden/camwarden/board"
	"github.com/camwarden/camwarden/firmware/buildinfo"
	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/enforce/watchdog"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes"
	"golang.org/x/sync/errgroup"
)

// daemon is one run of the appliance: what the stages build, in the order
// Run starts them. Each stage_*.go file fills its part; later stages may
// use what earlier ones built, never the other way round.
type daemon struct {
	cfg  config.Config
	opts RunOptions
	id   string
	log  *slog.Logger
	now  func() time.Time

	ctx     context.Context // cancelled on shutdown or when a component fails
	stop    context.CancelFunc
	g       *errgroup.Group
	restart atomic.Bool
	closers []func() // undone in reverse order after every goroutine ended

	board board.Board          // stage_board.go
	rep   report.Reporter      // stage_reporting.go: always set
	link  Uplink               // stage_reporting.go: nil without a broker
	enf   *enforce.Enforcer    // stage_enforcer.go
	inv   *inventory.Inventory // stage_inventory.go
	pipe  *Pipeline
	// settings is what a signed policy changes (rules, signatures, probe
	// settings), swapped as one (stage_policy.go).
	settings atomic.Pointer[Settings]
	policy   *PolicyManager     // stage_policy.go: nil without policy.root_key
	wd       *watchdog.Watchdog // stage_watchdog.go
	links    []probes.Link      // stage_capture.go
	reg      *probes.Registry
	captures []*captureStats
	sched    atomic.Pointer[Scheduler] // stage_probing.go: nil when not probing
	started  time.Time
}

func newDaemon(ctx context.Context, cfg config.Config, o RunOptions) (*daemon, error) {
	d := &daemon{cfg: cfg, opts: o, id: ApplianceID(cfg), log: o.Log, now: o.Now}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.now == nil {
		d.now = time.Now
	}
	// The appliance id goes on every line once, here; components below add
	// their own attributes only.
	d.log = d.log.With("appliance", d.id)
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	ctx, d.stop = context.WithCancel(ctx)
	d.g, d.ctx = errgroup.WithContext(ctx)
	d.started = d.now()
	return d, nil
}

// goRun runs f for the daemon's life; an error from it stops the daemon.
func (d *daemon) goRun(f func(ctx context.Context) error) { d.g.Go(func() error { return f(d.ctx) }) }

// onClose registers an undo step for after shutdown.
func (d *daemon) onClose(f func()) { d.closers = append(d.closers, f) }

// abort stops what earlier stages started and returns err.
func (d *daemon) abort(err error) error {
	d.stop()
	_ = d.g.Wait()
	return err
}

// run reports readiness, then waits for shutdown or failure.
func (d *daemon) run() error {
	if err := d.wd.Ready(); err != nil {
		d.log.Warn("watchdog ready", "err", err)
	}
	d.goRun(d.wd.Run)
	d.goRun(func(ctx context.Context) error {
		return stateLoop(ctx, d.cfg.StateDir, d.id, d.rep, d.status, d.snapshotExtras, d.pipe, d.enf, d.opts.View, d.log)
	})
	d.log.Info("camwarden running", "version", buildinfo.Version, "interfaces", len(d.cfg.Interfaces),
		"probing", d.sched.Load() != nil)
	err := d.g.Wait()
	d.log.Info("camwarden stopping")
	if d.restart.Load() {
		return ErrRestart
	}
	return err
}

func (d *daemon) close() {
	d.stop()
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}
