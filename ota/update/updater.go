package update

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Job states reported on ota/status.
const (
	StateQueued      = "queued"
	StateDownloading = "downloading"
	StateVerifying   = "verifying"
	StateInstalled   = "installed"
	StateTrial       = "trial"
	StateCommitted   = "committed"
	StateRolledBack  = "rolled_back"
	StateFailed      = "failed"
	StateIdle        = "idle" // nothing has happened yet (factory)
)

// MaxJob bounds a job message.
const MaxJob = 4 << 10

// Job is the message on ota/job. It is not signed: it only says where to
// look. Everything that matters comes from the signed release metadata.
type Job struct {
	Version    string `json:"version"`
	Repository string `json:"repository"`
}

// ParseJob decodes a job. Header fields (schema, ts, ...) are allowed and
// ignored; the version and an https repository are required.
func ParseJob(b []byte) (Job, error) {
	var j Job
	if len(b) > MaxJob {
		return j, fmt.Errorf("update: job: %d bytes, more than %d", len(b), MaxJob)
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return Job{}, fmt.Errorf("update: job: %w", err)
	}
	if !ValidVersion(j.Version) {
		return Job{}, fmt.Errorf("update: job: version: %q is not a version", j.Version)
	}
	if _, err := CheckURL(j.Repository); err != nil {
		return Job{}, fmt.Errorf("update: job: repository: %w", err)
	}
	return j, nil
}

func (j Job) key() string { return j.Version + "@" + strings.TrimRight(j.Repository, "/") }

// Status is one report on ota/status.
type Status struct {
	State    string `json:"state"`
	Version  string `json:"version,omitempty"` // the release the job is about
	Running  string `json:"running"`           // the version running now ("" = factory)
	Progress int    `json:"progress,omitempty"`
	Code     string `json:"code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// RetryAt is when a failed job will be tried again without waiting
	// for it to be delivered again (zero: it will not).
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// Options configure an Updater.
type Options struct {
	Dir     string // update state directory ({state_dir}/update)
	Arch    string // default HostArch()
	Trust   Trust  // key set and trusted time (*policy.Trust); needed by Install only
	Fetcher *Fetcher
	// Report receives every status (nil: only logged). It must not block
	// for long: it runs on the job's goroutine.
	Report func(Status)
	// Restart is called after a release is switched in (and after a
	// rollback in the trial process): the app stops cleanly and re-execs
	// the launcher (see Relaunch). nil: the caller restarts.
	Restart func()
	// BrokerUp says whether the broker is reachable now; recorded at
	// install so the trial's gate demands it only if it was.
	BrokerUp func() bool
	// TrialTimeout is how long the gate has to pass (default 2 minutes).
	TrialTimeout time.Duration
	// MinTrial is the appliance's own minimum healthy period; a release
	// that asks for longer (Release.MinTrialSeconds) gets longer. The gate
	// must pass at every poll for this long, within one start of the trial
	// process, before the release commits: a reboot or crash during that
	// time starts the period again (and counts a boot attempt). Default 0.
	MinTrial time.Duration
	// GateInterval is how often the gate is polled (default 2 seconds).
	GateInterval time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// Updater installs releases into the A/B slots and runs the trial. One
// job runs at a time.
type Updater struct {
	opts  Options
	store *Store
	log   *slog.Logger

	mu      sync.Mutex // serialises state changes
	running bool
}

// New opens the state directory.
func New(opts Options) (*Updater, error) {
	st, err := OpenStore(opts.Dir)
	if err != nil {
		return nil, err
	}
	if opts.Arch == "" {
		opts.Arch = HostArch()
	}
	if opts.Fetcher == nil {
		opts.Fetcher = &Fetcher{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Fetcher.Logger == nil {
		opts.Fetcher.Logger = opts.Logger
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TrialTimeout <= 0 {
		opts.TrialTimeout = 2 * time.Minute
	}
	if opts.GateInterval <= 0 {
		opts.GateInterval = 2 * time.Second
	}
	return &Updater{opts: opts, store: st, log: opts.Logger.With("component", "update")}, nil
}

// Store is the updater's state directory.
func (u *Updater) Store() *Store { return u.store }

func (u *Updater) report(s Status) {
	if s.State == StateFailed || s.State == StateRolledBack {
		u.log.Warn("update: "+s.State, "version", s.Version, "code", s.Code, "reason", s.Reason)
	} else if s.State != StateDownloading {
		u.log.Info("update: "+s.State, "version", s.Version, "running", s.Running)
	}
	if u.opts.Report != nil {
		u.opts.Report(s)
	}
}

// Current is the status to publish at start: the trial or the last outcome.
func (u *Updater) Current() Status {
	st, err := u.store.Load()
	if err != nil {
		return Status{State: StateFailed, Code: CodeInstall, Reason: err.Error()}
	}
	s := Status{State: StateIdle, Running: st.ActiveVersion()}
	switch {
	case st.Trial != nil:
		s.State, s.Version = StateTrial, st.Trial.Version
	case st.Last != nil:
		s.State, s.Version, s.Code, s.Reason = st.Last.State, st.Last.Version, st.Last.Code, st.Last.Reason
	}
	return s
}

// ErrBusy is returned when a job or trial is already in progress.
var ErrBusy = errors.New("another update is in progress")

// Install runs a job up to the switch: fetch and verify the metadata,
// download and verify the binary, write the inactive slot, and switch the
// state to a trial of it. It reports every state and returns the error it
// reported. On success it calls Options.Restart.
func (u *Updater) Install(ctx context.Context, job Job) error {
	u.mu.Lock()
	if u.running {
		u.mu.Unlock()
		return u.refuse(job, "", fail(CodeBusy, false, "%v", ErrBusy), false)
	}
	u.running = true
	u.mu.Unlock()
	defer func() { u.mu.Lock(); u.running = false; u.mu.Unlock() }()

	if u.opts.Trust == nil {
		return u.refuse(job, "", fail(CodeSignature, false, "no key set or trusted time configured"), false)
	}
	st, err := u.store.Load()
	if err != nil {
		return u.refuse(job, "", fail(CodeInstall, false, "%v", err), false)
	}
	running := st.ActiveVersion()
	switch {
	case st.Trial != nil:
		return u.refuse(job, running, fail(CodeBusy, false, "release %s is on trial", st.Trial.Version), false)
	case job.Version == running && running != "":
		// A retained job seen again after its release committed.
		u.report(Status{State: StateCommitted, Version: job.Version, Running: running})
		return nil
	case st.Last != nil && st.Last.Job == job.key() && st.Last.State == StateRolledBack:
		// A redelivered job whose release was rolled back here: say so
		// again, do not fetch again. Other refusals are retried when the
		// job is delivered again (a reconnect, or a re-push): a key set
		// may have arrived since, or the release been re-signed.
		u.report(Status{State: st.Last.State, Version: job.Version, Running: running, Code: st.Last.Code, Reason: st.Last.Reason})
		return &Error{Code: st.Last.Code, Permanent: true, Err: errors.New(st.Last.Reason)}
	}
	u.report(Status{State: StateQueued, Version: job.Version, Running: running})

	rel, tgt, err := u.fetchRelease(ctx, job, &st)
	if err != nil {
		return u.refuse(job, running, err, true)
	}
	base, _ := url.Parse(strings.TrimRight(job.Repository, "/") + "/")
	ref, _ := url.Parse(tgt.URL)
	binURL := base.ResolveReference(ref).String()

	last := -1
	progress := func(done, total int64) {
		pct := int(done * 100 / total)
		if pct/10 != last/10 {
			last = pct
			u.report(Status{State: StateDownloading, Version: rel.Version, Running: running, Progress: pct})
		}
	}
	part := filepath.Join(u.store.Dir(), filePart)
	hit := func(s Step) error {
		if s == StepVerify {
			u.report(Status{State: StateVerifying, Version: rel.Version, Running: running})
		}
		return u.store.hit(s)
	}
	if err := u.opts.Fetcher.Download(ctx, binURL, part, tgt.Size, tgt.SHA256, progress, hit); err != nil {
		return u.refuse(job, running, err, true)
	}

	slot := st.other()
	// The slot about to be overwritten no longer holds what state says.
	delete(st.Slots, slot)
	if st.Previous == slot {
		st.Previous = ""
	}
	if err := u.store.Save(st); err != nil {
		return u.refuse(job, running, fail(CodeInstall, false, "%v", err), true)
	}
	if err := u.store.writeSlot(slot, part, tgt.SHA256); err != nil {
		if errors.Is(err, ErrInjected) {
			return err
		}
		return u.refuse(job, running, fail(CodeInstall, false, "write slot %s: %v", slot, err), true)
	}
	if err := u.store.hit(StepSwitch); err != nil {
		return err
	}
	brokerUp := u.opts.BrokerUp != nil && u.opts.BrokerUp()
	st.Slots[slot] = SlotInfo{Version: rel.Version, SHA256: tgt.SHA256}
	st.Trial = &Trial{Slot: slot, Version: rel.Version, SHA256: tgt.SHA256, SecurityEpoch: rel.SecurityEpoch,
		IssuedAt: rel.IssuedAt.UTC(), BrokerWasUp: brokerUp, InstalledAt: u.opts.Now().UTC(),
		MinTrialSeconds: rel.MinTrialSeconds}
	st.Last = &Outcome{State: StateInstalled, Version: rel.Version, At: u.opts.Now().UTC(), Job: job.key()}
	if err := u.store.Save(st); err != nil {
		return u.refuse(job, running, fail(CodeInstall, false, "%v", err), true)
	}
	os.Remove(part)
	os.Remove(part + ".meta")
	u.report(Status{State: StateInstalled, Version: rel.Version, Running: running})
	if u.opts.Restart != nil {
		u.opts.Restart()
	}
	return nil
}

// refuse reports a failed job, records it as the last outcome when
// remember is set, and returns err.
func (u *Updater) refuse(job Job, running string, err error, remember bool) error {
	if errors.Is(err, ErrInjected) {
		return err // a simulated crash reports nothing
	}
	code := CodeOf(err)
	if code == "" {
		code = CodeFetch
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			code = CodeFetch
		}
	}
	u.report(Status{State: StateFailed, Version: job.Version, Running: running, Code: code, Reason: err.Error()})
	if remember {
		u.mu.Lock()
		defer u.mu.Unlock()
		if st, lerr := u.store.Load(); lerr == nil && st.Trial == nil {
			st.Last = &Outcome{State: StateFailed, Version: job.Version, Code: code, Reason: err.Error(),
				At: u.opts.Now().UTC(), Job: job.key()}
			if serr := u.store.Save(st); serr != nil {
				u.log.Error("update: save outcome", "err", serr)
			}
		}
	}
	return err
}

// fetchRelease gets and checks the job's signed metadata against the state.
func (u *Updater) fetchRelease(ctx context.Context, job Job, st *State) (*Release, *Target, error) {
	metaURL := strings.TrimRight(job.Repository, "/") + "/" + ReleasePath(job.Version)
	raw, err := u.opts.Fetcher.Get(ctx, metaURL, MaxMetadata)
	if err != nil {
		return nil, nil, err
	}
	rel, err := VerifyRelease(bytes.TrimSpace(raw), u.opts.Trust)
	if err != nil {
		return nil, nil, err
	}
	if rel.Version != job.Version {
		return nil, nil, fail(CodeVersion, true, "job asks for %s, metadata at %s is release %s", job.Version, metaURL, rel.Version)
	}
	if rel.SecurityEpoch < st.EpochFloor {
		return nil, nil, fail(CodeEpoch, true, "release %s has security epoch %d, below the floor %d", rel.Version, rel.SecurityEpoch, st.EpochFloor)
	}
	if !st.MetadataFloor.IsZero() && !rel.IssuedAt.After(st.MetadataFloor) {
		return nil, nil, fail(CodeRollback, true, "release %s metadata issued %s, not newer than the running release's (%s): replayed metadata; re-sign it to downgrade",
			rel.Version, rel.IssuedAt.UTC().Format(time.RFC3339), st.MetadataFloor.UTC().Format(time.RFC3339))
	}
	tgt := rel.Target(u.opts.Arch)
	if tgt == nil {
		arches := make([]string, 0, len(rel.Targets))
		for _, t := range rel.Targets {
			arches = append(arches, t.Arch)
		}
		return nil, nil, fail(CodeArch, true, "release %s has no %s binary (has %s)", rel.Version, u.opts.Arch, strings.Join(arches, ", "))
	}
	if st.failed(tgt.SHA256) {
		return nil, nil, fail(CodeFailedBefore, true, "release %s binary %s failed its trial before; not retried", rel.Version, tgt.SHA256[:16])
	}
	if o, ok := u.opts.Trust.(observer); ok {
		if err := o.Observe(rel.IssuedAt); err != nil {
			u.log.Warn("update: trusted time not advanced", "err", err)
		}
	}
	return rel, tgt, nil
}

// Gate is the health gate of a trial: nil once the new release is healthy.
// It is polled until it passes or the trial times out.
type Gate func(ctx context.Context, t Trial) error

// RunTrial is called by a process that Boot started on trial: it reports
// the trial, polls gate until it passes within the trial timeout, then
// commits; when the gate fails it rolls back and calls Options.Restart so
// the launcher starts the previous slot. It returns the gate's error after
// a rollback, nil after a commit.
func (u *Updater) RunTrial(ctx context.Context, d Decision, gate Gate) error {
	st, err := u.store.Load()
	if err != nil {
		return err
	}
	if st.Trial == nil || st.Trial.Slot != d.Slot {
		return nil // not on trial (committed or rolled back meanwhile)
	}
	t := *st.Trial
	u.report(Status{State: StateTrial, Version: t.Version, Running: t.Version})
	if err := u.store.hit(StepTrial); err != nil {
		return err
	}
	// The gate has TrialTimeout to start passing and must then keep
	// passing for the minimum period; a failure in between starts the
	// period again, and the deadline stays.
	minTrial := max(u.opts.MinTrial, time.Duration(t.MinTrialSeconds)*time.Second)
	limit := u.opts.TrialTimeout + minTrial
	gctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var gerr error
	var healthySince time.Time // monotonic (time.Now), whatever Options.Now says
	for {
		if err := u.store.hit(StepGate); err != nil {
			return err
		}
		gerr = gate(gctx, t)
		if gerr == nil {
			if healthySince.IsZero() {
				healthySince = time.Now()
				if minTrial > 0 {
					u.log.Info("update: trial healthy; commits if it stays so", "version", t.Version, "min_trial", minTrial,
						"attempt", t.Attempts)
				}
			}
			if time.Since(healthySince) >= minTrial {
				break
			}
		} else if !healthySince.IsZero() {
			u.log.Warn("update: trial unhealthy again; minimum period restarts", "version", t.Version, "err", gerr)
			healthySince = time.Time{}
		}
		if ctx.Err() != nil {
			// The app is stopping (not the gate failing): the next start
			// tries again, counted by Boot.
			return ctx.Err()
		}
		wait := u.opts.GateInterval
		if gerr == nil {
			wait = min(wait, minTrial-time.Since(healthySince))
		}
		if err := sleepCtx(gctx, wait); err != nil {
			if ctx.Err() != nil {
				// Stopping (a reboot, a service restart) is not a failed
				// trial: the next start resumes it, counted by Boot.
				return ctx.Err()
			}
			if gerr == nil {
				gerr = fmt.Errorf("healthy for %s of the %s minimum when the trial ran out", time.Since(healthySince).Round(time.Second), minTrial)
			}
			break
		}
	}
	if gerr != nil {
		if err := u.Rollback(CodeGate, fmt.Sprintf("health gate not passed within %s: %v", limit, gerr)); err != nil {
			return err
		}
		if u.opts.Restart != nil {
			u.opts.Restart()
		}
		return &Error{Code: CodeGate, Permanent: true, Err: gerr}
	}
	if err := u.store.hit(StepCommit); err != nil {
		return err
	}
	return u.Commit()
}

// Commit makes the trial slot active, raises the epoch and metadata floors
// and reports committed.
func (u *Updater) Commit() error {
	u.mu.Lock()
	st, err := u.store.Load()
	if err != nil || st.Trial == nil {
		u.mu.Unlock()
		return err
	}
	t := *st.Trial
	st.Previous, st.Active, st.Trial = st.Active, t.Slot, nil
	st.EpochFloor = max(st.EpochFloor, t.SecurityEpoch)
	if t.IssuedAt.After(st.MetadataFloor) {
		st.MetadataFloor = t.IssuedAt
	}
	job := ""
	if st.Last != nil {
		job = st.Last.Job
	}
	st.Last = &Outcome{State: StateCommitted, Version: t.Version, At: u.opts.Now().UTC(), Job: job}
	err = u.store.Save(st)
	u.mu.Unlock()
	if err != nil {
		return fmt.Errorf("update: commit %s: %w", t.Version, err)
	}
	u.report(Status{State: StateCommitted, Version: t.Version, Running: t.Version})
	return nil
}

// Rollback abandons the trial: its image is remembered as failed and the
// active slot stays what it was. It reports rolled_back.
func (u *Updater) Rollback(code, reason string) error {
	u.mu.Lock()
	st, err := u.store.Load()
	if err != nil || st.Trial == nil {
		u.mu.Unlock()
		return err
	}
	o := rollback(&st, code, reason, u.opts.Now())
	err = u.store.Save(st)
	u.mu.Unlock()
	if err != nil {
		return fmt.Errorf("update: rollback: %w", err)
	}
	u.report(Status{State: StateRolledBack, Version: o.Version, Running: st.ActiveVersion(), Code: code, Reason: reason})
	return nil
}

func rollback(st *State, code, reason string, now time.Time) Outcome {
	t := st.Trial
	st.addFailed(t.SHA256)
	st.Trial = nil
	job := ""
	if st.Last != nil {
		job = st.Last.Job
	}
	o := Outcome{State: StateRolledBack, Version: t.Version, Code: code, Reason: reason, At: now.UTC(), Job: job}
	st.Last = &o
	return o
}

// Wire names shared by the appliance glue and wardenctl.
const (
	TopicJob     = "ota/job"    // down: camwarden/v1/{id}/ota/job or camwarden/v1/fleet/ota/job
	TopicStatus  = "ota/status" // up, retained: the latest Status
	SchemaJob    = "camwarden.ota.job/1"
	SchemaStatus = "camwarden.ota.status/1"
)
