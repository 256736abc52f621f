package app

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/camwarden/camwarden/board"
	"github.com/camwarden/camwarden/firmware/buildinfo"
	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/enforce/watchdog"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/update"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/classify"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// RunOptions are what the daemon takes besides its configuration.
type RunOptions struct {
	Board    board.Board     // overrides cfg.Board (tests)
	BoardIO  BoardIO         // where a console board draws and reads presses
	Reporter report.Reporter // overrides the configured reporter (tests)
	Log      *slog.Logger
	View     io.Writer // when set, the live inventory is redrawn here every second (demo)
	Now      func() time.Time
	// Update is what update.Boot decided at start (which slot, on trial?).
	Update update.Decision
}

// ErrRestart is returned by Run when it stopped so that main can relaunch
// the firmware slot an update switched to (update.Relaunch).
var ErrRestart = errors.New("app: restart requested to switch firmware slot")

// ApplianceIDFile holds the id the .deb's postinst generated.
const ApplianceIDFile = "/etc/camwarden/appliance-id"

// ApplianceID is the configured id, else the packaged one, else one derived from /etc/machine-id so
// that it is stable across reinstalls of the same card but not guessable
// from the machine id itself.
func ApplianceID(cfg config.Config) string {
	if cfg.ApplianceID != "" {
		return cfg.ApplianceID
	}
	// The package's postinst writes a random id here once.
	if b, err := os.ReadFile(ApplianceIDFile); err == nil {
		c := config.Default()
		c.ApplianceID = strings.TrimSpace(string(b))
		if c.ApplianceID != "" && c.Validate() == nil {
			return c.ApplianceID
		}
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		sum := sha256.Sum256([]byte("camwarden:" + strings.TrimSpace(string(b))))
		return "cw-" + hex.EncodeToString(sum[:6])
	}
	h, _ := os.Hostname()
	return "cw-" + strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, h)
}

// PolicyFromConfig converts the local policy section into enforcement policy.
func PolicyFromConfig(c config.Policy) (enforce.Policy, error) {
	p := enforce.DefaultPolicy()
	p.FlaggedMakers = append([]string(nil), c.FlaggedMakers...)
	p.FlaggedComponents = append([]string(nil), c.FlaggedComponents...)
	p.HoldTime = c.HoldTime
	p.AutoRestore = c.AutoRestore
	min, err := classify.ParseConfidence(c.MinIsolate)
	if err != nil {
		return p, fmt.Errorf("policy.min_isolate: %w", err)
	}
	p.MinIsolate = min
	p.Actions = map[string]enforce.Action{}
	for m, a := range c.Actions {
		act, err := enforce.ParseAction(a)
		if err != nil {
			return p, fmt.Errorf("policy.actions.%s: %w", m, err)
		}
		p.Actions[m] = act
	}
	for _, a := range c.Allow {
		mac := a.MAC
		if hw, err := net.ParseMAC(mac); err == nil {
			mac = hw.String()
		}
		p.AllowList = append(p.AllowList, enforce.Allow{MAC: mac, Serial: a.Serial, Reason: a.Reason, Expires: a.Expires})
	}
	return p, p.Validate()
}

// Run is the appliance daemon. It returns when ctx ends (clean shutdown) or
// a component fails.
func Run(ctx context.Context, cfg config.Config, o RunOptions) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	id := ApplianceID(cfg)
	log = log.With("appliance", id)
	ctx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var restart atomic.Bool
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}

	b := o.Board
	if b == nil {
		var err error
		if b, err = OpenBoard(cfg.Board, o.BoardIO, log); err != nil {
			return err
		}
	}
	defer b.Close()
	// The start-up sweep shows an installer every LED works. It runs before
	// the enforcer takes the LEDs over and touches no relay; the persisted
	// relay state is restored right after it, before anything probes.
	if err := board.Sweep(ctx, b, board.SweepStep); err != nil {
		log.Warn("LED sweep", "err", err)
	}

	rep := o.Reporter
	if rep == nil {
		var err error
		if rep, err = OpenReporter(ctx, cfg, id, log); err != nil {
			return err
		}
	}
	defer rep.Close()

	pol, err := PolicyFromConfig(cfg.Policy)
	if err != nil {
		return err
	}
	// The enforcer comes first: it re-applies a persisted cut before any
	// probe runs or any device is seen.
	evctx := context.WithoutCancel(ctx)
	enf, rerr := enforce.New(enforce.Options{Board: b, Now: now, StateFile: filepath.Join(cfg.StateDir, "relay.json"),
		Log: log, Policy: &pol, OnEvent: func(e report.Event) {
			if err := rep.Event(evctx, e); err != nil {
				log.Error("report event", "type", e.Type, "err", err)
			}
		}})
	if enf == nil {
		return fmt.Errorf("enforcement: %w", rerr)
	}
	if rerr != nil {
		log.Error("relay state could not be read; uplink kept cut until acknowledged", "err", rerr)
	}

	inv, err := inventory.Open(inventory.Options{Path: filepath.Join(cfg.StateDir, "inventory.db"),
		MaxDevices: cfg.Inventory.MaxDevices, Now: now, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := inv.Close(); err != nil {
			log.Error("inventory close", "err", err)
		}
	}()

	var sigs atomic.Pointer[classify.Set]
	sigs.Store(classify.Default())
	pipe := NewPipeline(&Pipeline{Inv: inv, Enforcer: enf, Reporter: rep, GoneAfter: cfg.Inventory.GoneAfter,
		Now: now, Log: log,
		Classify: func(mac net.HardwareAddr, f []probes.Fact) classify.Verdict {
			return classify.Classify(sigs.Load(), classify.Input{MAC: mac, Facts: f})
		}})

	// Probe settings a signed policy may change while running.
	var probeSettings atomic.Pointer[policy.Probes]
	allowed := func(name string) bool {
		ps := probeSettings.Load()
		return ps == nil || (!ps.PassiveOnly && !slices.Contains(ps.Disabled, name))
	}
	var sched atomic.Pointer[Scheduler]

	g, ctx := errgroup.WithContext(ctx)
	var pm *PolicyManager
	if cfg.Policy.RootKey != "" {
		var err error
		if pm, err = startPolicy(ctx, g, cfg, id, pol, rep, enf, inv, pipe, &sigs, &probeSettings, &sched, now, log); err != nil {
			return err
		}
	} else {
		log.Info("policy.root_key not set: signed policies and commands are not accepted; the local policy applies")
	}
	g.Go(func() error { return enf.Run(ctx) })
	if c, ok := rep.(interface{ Connected() bool }); ok && cfg.MQTT.Broker != "" {
		g.Go(func() error { return brokerLED(ctx, c, enf) })
	}
	g.Go(func() error { return pipe.Run(ctx, time.Second, cfg.Inventory.ForgetAfter) })
	g.Go(func() error { return flushLoop(ctx, inv, log) })

	status := func() report.Status {
		st := enf.Status()
		flagged := 0
		for _, d := range pipe.Views() {
			if d.Flagged {
				flagged++
			}
		}
		var names []string
		for _, i := range cfg.Interfaces {
			names = append(names, i.Name)
		}
		return report.Status{Online: true, Firmware: buildinfo.Version, PolicyVersion: st.Policy,
			Interfaces: names, Devices: inv.Len(), Flagged: flagged, UplinkCut: st.Cut,
			Unconfigured: len(cfg.Interfaces) == 0}
	}

	wd, err := watchdog.New(watchdog.Options{Device: cfg.Watchdog.Hardware, Log: log})
	if err != nil {
		return err
	}
	defer wd.Close()
	wd.Register("enforcement loop", watchdog.Fresh(enf.LastTurn, 10*time.Second, now))

	active, why := cfg.Active()
	if len(cfg.Interfaces) == 0 {
		log.Warn("unconfigured: " + why + "; set interfaces in the configuration file and restart. " +
			"LEDs show 'unconfigured' (power slow blink); no probing, no relay action.")
		enf.SetHealth(enforce.HealthStarting)
	} else {
		links, err := ResolveLinks(cfg.Interfaces)
		if err != nil {
			return err
		}
		reg := Registry(cfg.Probing, log)
		var captured atomic.Int64
		for i, l := range links {
			src, err := capture.Open(capture.Options{Iface: l.Iface.Name, Promiscuous: cfg.Interfaces[i].Promiscuous})
			if err != nil {
				return fmt.Errorf("capture on %s: %w", l.Iface.Name, err)
			}
			captured.Add(1)
			g.Go(func() error {
				defer src.Close()
				_, err := capture.Run(ctx, src, reg, func(ob probes.Observation) {
					enf.Activity()
					pipe.Sink(ob)
				}, log)
				captured.Add(-1)
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("capture on %s stopped: %w", l.Iface.Name, err)
			})
		}
		wd.Register("capture", func() error {
			if captured.Load() < int64(len(links)) {
				return errors.New("a capture loop has stopped")
			}
			return nil
		})
		if active {
			s := &Scheduler{Probers: reg.Probers, Discoverers: reg.Discoverers, Links: links, Allowed: allowed,
				Sink:        func(ob probes.Observation) { enf.Activity(); pipe.Sink(ob) },
				Concurrency: cfg.Probing.Concurrency, PerHost: cfg.Probing.PerHost, Timeout: cfg.Probing.Timeout,
				Discovery: cfg.Probing.Discovery, Limiter: rate.NewLimiter(rate.Limit(cfg.Probing.RatePPS), cfg.Probing.RatePPS),
				Log: log, Target: targetFrom(inv)}
			pipe.OnAddress = func(d inventory.Device) { s.Enqueue(d.MAC) }
			s.Done = func(mac string, probed bool) {
				if probed {
					inv.MarkProbed(mac, time.Now())
				}
			}
			// Re-probe a device while it is still not identified with at
			// least strong confidence (bounded by DefaultRetry).
			s.Again = func(mac string) bool {
				d, ok := inv.Get(mac)
				if !ok {
					return false
				}
				return classify.Classify(sigs.Load(), classify.Input{MAC: d.HardwareAddr(), Facts: d.ProbeFacts()}).Confidence < classify.Strong
			}
			s.Retry = DefaultRetry
			sched.Store(s)
			// Workers start before the start-up sweep, so a host is probed
			// the moment the sweep (or capture) finds it.
			g.Go(func() error { return s.Run(ctx, cfg.Probing.SweepInterval) })
			g.Go(func() error { s.Sweep(ctx); return nil })
		} else {
			log.Info("active probing off: " + why)
		}
		enf.SetHealth(enforce.HealthOK)
	}
	if mc, ok := rep.(*mqtt.Client); ok && pm != nil {
		var roots *x509.CertPool
		if cfg.OTA.CAFile != "" {
			pem, err := os.ReadFile(cfg.OTA.CAFile)
			if err != nil {
				return fmt.Errorf("ota.ca_file: %w", err)
			}
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				return fmt.Errorf("ota.ca_file %s: no PEM certificates", cfg.OTA.CAFile)
			}
		}
		ota, err := NewOTAManager(OTAOptions{Dir: filepath.Join(cfg.StateDir, "update"), ApplianceID: id,
			Trust: pm.Engine().Trust(), RootCAs: roots, Decision: o.Update, TrialTimeout: cfg.OTA.TrialTimeout,
			Publisher: mc, Logger: log,
			Restart: func() { restart.Store(true); stopRun() },
			Health: OTAHealth{
				Capture: func(context.Context) error { return wd.Healthy() },
				Policy:  func(context.Context) error { return enf.Policy().Validate() },
				Board: func(context.Context) error {
					if f := enf.Status().RelayFault; f != "" {
						return errors.New("relay: " + f)
					}
					return nil
				},
				Watchdog: func(context.Context) error { return wd.Healthy() },
				Broker:   mc.Connected,
			}})
		if err != nil {
			return fmt.Errorf("ota: %w", err)
		}
		if err := ota.Subscribe(mc); err != nil {
			return fmt.Errorf("ota subscribe: %w", err)
		}
		g.Go(func() error { return ota.Run(ctx) })
	}
	if err := wd.Ready(); err != nil {
		log.Warn("watchdog ready", "err", err)
	}
	g.Go(func() error { return wd.Run(ctx) })
	g.Go(func() error { return stateLoop(ctx, cfg.StateDir, rep, status, pipe, enf, o.View, log) })
	log.Info("camwarden running", "version", buildinfo.Version, "interfaces", len(cfg.Interfaces), "active", active)
	err = g.Wait()
	log.Info("camwarden stopping")
	if restart.Load() {
		return ErrRestart
	}
	return err
}

// brokerLED keeps the broker LED on while connected, slow while trying.
func brokerLED(ctx context.Context, c interface{ Connected() bool }, enf *enforce.Enforcer) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if c.Connected() {
			enf.SetBroker(enforce.BrokerConnected)
		} else {
			enf.SetBroker(enforce.BrokerConnecting)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// policyApplier is what happens when a verified policy is swapped in: the
// enforcer takes its rules, classify its signatures, and every device is
// re-decided and re-reported at once, without a restart.
func policyApplier(ctx context.Context, enf interface{ SetPolicy(enforce.Policy) error }, sigs *atomic.Pointer[classify.Set],
	pipe *Pipeline, log *slog.Logger) func(enforce.Policy, *classify.Set, uint64) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(p enforce.Policy, set *classify.Set, v uint64) {
		if err := enf.SetPolicy(p); err != nil {
			log.Error("signed policy not applicable", "version", v, "err", err)
			return
		}
		if set != nil {
			sigs.Store(set)
		}
		pipe.Republish(ctx)
		log.Info("policy in force", "version", v)
	}
}

// startPolicy loads the stored signed policy (before any probe runs) and,
// with a broker, subscribes to key sets, policies and signed commands.
func startPolicy(ctx context.Context, g *errgroup.Group, cfg config.Config, id string, local enforce.Policy,
	rep report.Reporter, enf *enforce.Enforcer, inv *inventory.Inventory, pipe *Pipeline,
	sigs *atomic.Pointer[classify.Set], probeSettings *atomic.Pointer[policy.Probes], sched *atomic.Pointer[Scheduler],
	now func() time.Time, log *slog.Logger) (*PolicyManager, error) {
	mc, _ := rep.(*mqtt.Client)
	var pub PolicyPublisher
	if mc != nil {
		pub = mc
	}
	apply := policyApplier(context.WithoutCancel(ctx), enf, sigs, pipe, log)
	pm, err := NewPolicyManager(PolicyOptions{Dir: filepath.Join(cfg.StateDir, "policy"), RootKey: cfg.Policy.RootKey,
		ApplianceID: id, Fallback: &local, Publisher: pub, Now: now, Logger: log, OnApply: apply,
		OnProbes: func(ps policy.Probes) { probeSettings.Store(&ps) }})
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if p, set, v, ok := pm.Current(); ok {
		apply(p, set, v)
	}
	if mc == nil {
		log.Warn("policy.root_key is set but no mqtt.broker: only the stored policy applies")
		return pm, nil
	}
	if err := pm.Subscribe(mc); err != nil {
		return nil, fmt.Errorf("policy subscribe: %w", err)
	}
	ch, err := NewCommandHandler(CommandOptions{ApplianceID: id, Engine: pm.Engine(), Publisher: mc, Logger: log,
		Ack: func(source string) error { return enf.Acknowledge(source) },
		Rescan: func() error {
			s := sched.Load()
			if s == nil {
				return errors.New("no active probing configured")
			}
			g.Go(func() error { s.Sweep(ctx); return nil })
			return nil
		},
		Forget: func(mac string) error {
			if !inv.Forget(mac) {
				return fmt.Errorf("no device %s", mac)
			}
			enf.Forget(mac)
			return rep.Forget(ctx, mac)
		}})
	if err != nil {
		return nil, fmt.Errorf("commands: %w", err)
	}
	return pm, ch.Subscribe(mc)
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
