package watchdog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Check returns nil while the thing it watches is healthy.
type Check func() error

// Fresh is a Check that fails when last() is older than within: the usual
// liveness test for a loop that records when it last turned.
func Fresh(last func() time.Time, within time.Duration, now func() time.Time) Check {
	if now == nil {
		now = time.Now
	}
	return func() error {
		l := last()
		if l.IsZero() {
			return errors.New("has not run yet")
		}
		if age := now().Sub(l); age > within {
			return fmt.Errorf("last ran %v ago (deadline %v)", age.Round(time.Millisecond), within)
		}
		return nil
	}
}

// DefaultInterval is the keepalive period when systemd sets no watchdog.
const DefaultInterval = 5 * time.Second

// Options configures New.
type Options struct {
	// Interval between keepalives; 0 means half of systemd's WATCHDOG_USEC,
	// or DefaultInterval when systemd set none.
	Interval time.Duration
	// Notify sends a state to the service manager; nil means
	// daemon.SdNotify (a no-op outside systemd).
	Notify func(state string) (bool, error)
	// Device is a hardware watchdog to keep alive, e.g. "/dev/watchdog";
	// "" for none. Opening it arms it: from then on the box reboots if
	// keepalives stop.
	Device string
	Log    *slog.Logger
}

// Watchdog sends keepalives while every registered check passes.
type Watchdog struct {
	interval time.Duration
	notify   func(string) (bool, error)
	log      *slog.Logger
	dev      *os.File

	kickMu sync.Mutex // orders keepalives against Close
	closed bool

	mu      sync.Mutex
	checks  map[string]Check
	failing map[string]string // check name → last error, to log changes only
}

// New prepares the watchdog and opens the hardware device if asked.
func New(o Options) (*Watchdog, error) {
	w := &Watchdog{interval: o.Interval, notify: o.Notify, log: o.Log,
		checks: map[string]Check{}, failing: map[string]string{}}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.notify == nil {
		w.notify = func(s string) (bool, error) { return daemon.SdNotify(false, s) }
	}
	if w.interval <= 0 {
		w.interval = DefaultInterval
		if d, err := daemon.SdWatchdogEnabled(false); err == nil && d > 0 {
			// systemd's advice: notify at half the timeout.
			w.interval = d / 2
		}
	}
	if o.Device != "" {
		f, err := os.OpenFile(o.Device, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("watchdog: open %s: %w", o.Device, err)
		}
		w.dev = f
		// Keepalives at half systemd's WatchdogSec can be too slow for the
		// hardware: a Raspberry Pi's bcm2835-wdt allows about 16 s and a
		// board may set less, so a loaded box would be reset while healthy.
		// Kick at least twice per hardware timeout.
		if o.Interval <= 0 {
			w.interval = keepaliveInterval(w.interval, hardwareTimeout(f))
		}
	}
	return w, nil
}

// keepaliveInterval is the systemd-derived period, shortened to half the
// hardware watchdog's timeout (0: unknown) when that is shorter.
func keepaliveInterval(systemd, hw time.Duration) time.Duration {
	if hw > 0 && systemd > hw/2 {
		return hw / 2
	}
	return systemd
}

// Interval is the keepalive period in use.
func (w *Watchdog) Interval() time.Duration { return w.interval }

// Register adds (or replaces) a named health check.
func (w *Watchdog) Register(name string, c Check) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checks[name] = c
}

// Ready tells systemd start-up is complete (Type=notify).
func (w *Watchdog) Ready() error {
	if _, err := w.notify(daemon.SdNotifyReady); err != nil {
		return fmt.Errorf("watchdog: notify ready: %w", err)
	}
	return nil
}

// Healthy runs every check and returns the failures, joined.
func (w *Watchdog) Healthy() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	names := make([]string, 0, len(w.checks))
	for n := range w.checks {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		err := w.checks[n]()
		switch {
		case err != nil:
			if w.failing[n] != err.Error() {
				w.log.Error("health check failing; withholding watchdog keepalive", "check", n, "err", err)
			}
			w.failing[n] = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		case w.failing[n] != "":
			w.log.Info("health check recovered", "check", n)
			delete(w.failing, n)
		}
	}
	return errors.Join(errs...)
}

// Kick sends one keepalive if every check passes and reports why not
// otherwise.
func (w *Watchdog) Kick() error {
	w.kickMu.Lock()
	defer w.kickMu.Unlock()
	if w.closed {
		// A keepalive after STOPPING=1 would tell systemd we are still
		// running normally.
		return errors.New("watchdog: closed")
	}
	if err := w.Healthy(); err != nil {
		return fmt.Errorf("watchdog: unhealthy: %w", err)
	}
	if _, err := w.notify(daemon.SdNotifyWatchdog); err != nil {
		return fmt.Errorf("watchdog: notify: %w", err)
	}
	if w.dev != nil {
		if _, err := w.dev.Write([]byte{0}); err != nil {
			return fmt.Errorf("watchdog: keepalive %s: %w", w.dev.Name(), err)
		}
	}
	return nil
}

// Run kicks every interval until ctx ends.
func (w *Watchdog) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := w.Kick(); err != nil {
				w.log.Debug("no keepalive", "err", err)
			}
		}
	}
}

// Close tells systemd we are stopping and disarms the hardware watchdog with
// the magic close character, so a deliberate stop does not reboot the box.
// A crash never reaches Close, and the hardware then reboots as intended.
func (w *Watchdog) Close() error {
	w.kickMu.Lock()
	defer w.kickMu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	_, nerr := w.notify(daemon.SdNotifyStopping)
	if w.dev == nil {
		return nerr
	}
	_, werr := w.dev.Write([]byte("V"))
	cerr := w.dev.Close()
	w.dev = nil
	return errors.Join(nerr, werr, cerr)
}
