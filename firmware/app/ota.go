package app

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/ota/update"
)

// OTAHealth are the health gate's checks for a release on trial. Each
// returns nil when healthy; a nil check is not part of the gate.
type OTAHealth struct {
	Capture  func(ctx context.Context) error // capture running (frames arriving)
	Policy   func(ctx context.Context) error // a policy loaded (signed or local)
	Board    func(ctx context.Context) error // board answering (LED/relay pins)
	Watchdog func(ctx context.Context) error // watchdog fed recently
	// Broker says whether the broker is connected; it is demanded only
	// when it was reachable at install time.
	Broker func() bool
}

// OTAOptions configure an OTAManager.
type OTAOptions struct {
	Dir         string // {state_dir}/update: the same directory update.Boot was given
	ApplianceID string
	Trust       update.Trust    // PolicyManager.Engine().Trust()
	RootCAs     *x509.CertPool  // CAs for release repositories (nil: system roots)
	Decision    update.Decision // what update.Boot decided at start
	Health      OTAHealth
	// TrialTimeout bounds the gate (default 2 minutes).
	TrialTimeout time.Duration
	// Restart asks the app to stop cleanly so main can update.Relaunch:
	// called after an install (to start the trial) and after a rollback.
	Restart   func()
	Publisher PolicyPublisher
	Logger    *slog.Logger
	// RetryBackoff are the waits before trying a job again after a failure
	// that may pass (the repository unreachable after the fetcher's own
	// retries, a local write error); after the last one the job waits for
	// the broker to deliver it again. Default DefaultOTARetry.
	RetryBackoff []time.Duration
	// Fetcher overrides the release fetcher (its retries and backoff);
	// nil: one over RootCAs with the defaults.
	Fetcher *update.Fetcher
}

// DefaultOTARetry spreads a failed job's retries over about half an hour:
// long enough to ride out a repository restart or a WAN outage, short
// enough not to hammer a repository the whole fleet is waiting on.
var DefaultOTARetry = []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 15 * time.Minute}

// OTAStatusPayload is published retained on ota/status.
type OTAStatusPayload struct {
	mqtt.Header
	update.Status
}

// OTAManager takes jobs from ota/job, runs them one at a time through
// ota/update and reports on ota/status; on a trial start it runs the
// health gate and commits or rolls back.
type OTAManager struct {
	opts OTAOptions
	u    *update.Updater
	log  *slog.Logger

	mu      sync.Mutex
	pending *update.Job
	last    update.Status // the status published last
	wake    chan struct{}
}

// NewOTAManager opens the update state.
func NewOTAManager(o OTAOptions) (*OTAManager, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RetryBackoff == nil {
		o.RetryBackoff = DefaultOTARetry
	}
	m := &OTAManager{opts: o, log: o.Logger.With("component", "ota"), wake: make(chan struct{}, 1)}
	f := o.Fetcher
	if f == nil {
		f = &update.Fetcher{Client: update.NewHTTPClient(o.RootCAs), Logger: o.Logger}
	}
	u, err := update.New(update.Options{Dir: o.Dir, Trust: o.Trust, Logger: o.Logger, Fetcher: f,
		Report: m.publish, Restart: o.Restart, BrokerUp: o.Health.Broker, TrialTimeout: o.TrialTimeout})
	if err != nil {
		return nil, err
	}
	m.u = u
	return m, nil
}

// Subscribe registers Handle for this appliance's and the fleet's job.
func (m *OTAManager) Subscribe(c PolicySubscriber) error {
	return errors.Join(c.Subscribe(update.TopicJob, m.Handle), c.SubscribeFleet(update.TopicJob, m.Handle))
}

// Handle takes one job message. The newest job waits while one runs; an
// empty payload (a cleared retained job) is ignored.
func (m *OTAManager) Handle(_ string, payload []byte) {
	if len(payload) == 0 {
		return
	}
	j, err := update.ParseJob(payload)
	if err != nil {
		m.publish(update.Status{State: update.StateFailed, Running: m.opts.Decision.Version, Code: update.CodeBadJob, Reason: err.Error()})
		return
	}
	m.mu.Lock()
	m.pending = &j
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run reports the current state, runs the trial when Boot started one,
// then runs jobs until ctx ends. Jobs that arrive during the trial wait
// for its outcome.
func (m *OTAManager) Run(ctx context.Context) error {
	m.publish(m.u.Current())
	if m.opts.Decision.Trial {
		if err := m.u.RunTrial(ctx, m.opts.Decision, m.gate()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			m.log.Warn("ota: trial ended without commit", "err", err)
			return nil // rolled back: Restart was asked for
		}
	}
	var (
		failed  *update.Job // the job to try again when retry fires
		attempt int
		retry   <-chan time.Time
	)
	for {
		var j *update.Job
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
			m.mu.Lock()
			j = m.pending
			m.pending = nil
			m.mu.Unlock()
			if j == nil {
				continue
			}
			// A job delivered again restarts the count; a new one
			// replaces the failed one.
			failed, attempt, retry = nil, 0, nil
		case <-retry:
			j, retry = failed, nil
			m.log.Info("ota: trying the job again", "version", j.Version, "retry", attempt)
		}
		// Errors were reported on ota/status by the updater. After a
		// successful install the release is on trial and Restart was
		// asked for: the trial starts after the relaunch.
		err := m.u.Install(ctx, *j)
		if err == nil {
			if m.u.Current().State == update.StateTrial {
				return nil
			}
			failed, attempt = nil, 0
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		var ue *update.Error
		if !errors.As(err, &ue) || ue.Permanent || ue.Code == update.CodeBusy || attempt >= len(m.opts.RetryBackoff) {
			failed, attempt = nil, 0
			continue
		}
		wait := m.opts.RetryBackoff[attempt]
		attempt++
		failed = j
		retry = time.After(wait)
		m.log.Warn("ota: job failed; will try again", "version", j.Version, "code", ue.Code, "in", wait,
			"retry", attempt, "of", len(m.opts.RetryBackoff))
		// The failure stays on ota/status, now saying when it is retried.
		m.mu.Lock()
		st := m.last
		m.mu.Unlock()
		if st.State == update.StateFailed {
			st.RetryAt = time.Now().Add(wait).UTC().Truncate(time.Second)
			m.publish(st)
		}
	}
}

func (m *OTAManager) gate() update.Gate {
	h := m.opts.Health
	wrap := func(f func(context.Context) error) func(context.Context, update.Trial) error {
		if f == nil {
			return nil
		}
		return func(ctx context.Context, _ update.Trial) error { return f(ctx) }
	}
	return update.Checks(
		update.Check{Name: "capture", Check: wrap(h.Capture)},
		update.Check{Name: "policy", Check: wrap(h.Policy)},
		update.Check{Name: "board", Check: wrap(h.Board)},
		update.Check{Name: "watchdog", Check: wrap(h.Watchdog)},
		update.Check{Name: "broker", Check: func(_ context.Context, t update.Trial) error {
			if !t.BrokerWasUp || h.Broker == nil || h.Broker() {
				return nil
			}
			return errors.New("not reachable (it was before the update)")
		}},
	)
}

func (m *OTAManager) publish(s update.Status) {
	m.mu.Lock()
	m.last = s
	m.mu.Unlock()
	if m.opts.Publisher == nil {
		return
	}
	b, err := json.Marshal(OTAStatusPayload{Header: m.opts.Publisher.NewHeader(update.SchemaStatus), Status: s})
	if err == nil {
		err = m.opts.Publisher.Publish(update.TopicStatus, b, true)
	}
	if err != nil {
		m.log.Warn("ota: status not published", "state", s.State, "err", err)
	}
}
