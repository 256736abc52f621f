// Package replaylab replays the real-world corpus (probes/classify/
// realworld) against the real survey: every entry becomes an emulated device
// (probes/camsim/replay) in namespace labs of at most BatchSize devices, one
// lab per batch and server mode, `camwarden survey --json` runs in each lab's
// appliance namespace, and every device's verdict is scored against what its
// entry expects. The lab test (firmware/app) asserts the score; `cwbench
// realworld` prints it.
package replaylab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/probes/camsim/replay"
	"github.com/camwarden/camwarden/probes/classify/realworld"
	"github.com/camwarden/camwarden/scripts/lab"
)

// Options configure Run.
type Options struct {
	Camsim    string // camsim binary
	Camwarden string // camwarden binary
	// Prefix names the labs' namespaces: <Prefix><mode digit><batch>,
	// so at most 5 characters. Each caller uses its own.
	Prefix    string
	BatchSize int           // devices per lab; default 120, at most 245
	Modes     []replay.Mode // default replay.Modes
	// Survey bounds each survey (--duration); default 60s. A survey ends
	// by itself once every device is probed.
	Survey time.Duration
	// Parallel is how many labs run at once (default 1). Each has its
	// own namespaces and /24; a survey spends most of its time waiting
	// for silent UDP ports, so a few labs side by side cost little CPU.
	Parallel int
	StateDir string    // where the survey configuration is written; default a temporary directory
	Log      io.Writer // one progress line per lab; nil = none
}

// maxBatch is what fits in the lab's /24 from .10 to .254.
const maxBatch = 245

func (o Options) withDefaults() (Options, error) {
	if o.BatchSize == 0 {
		o.BatchSize = 120
	}
	if o.BatchSize < 1 || o.BatchSize > maxBatch {
		return o, fmt.Errorf("replaylab: batch size %d out of range 1..%d", o.BatchSize, maxBatch)
	}
	if len(o.Modes) == 0 {
		o.Modes = replay.Modes
	}
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	if o.Survey <= 0 {
		o.Survey = 60 * time.Second
	}
	if o.Prefix == "" || len(o.Prefix) > 5 {
		return o, fmt.Errorf("replaylab: prefix %q: want 1 to 5 characters", o.Prefix)
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o, nil
}

// Device is what the survey JSON says of one device, read independently of
// the firmware's own types so the scoring sees exactly the public output.
type Device struct {
	MAC        string   `json:"mac"`
	IP         string   `json:"ip"`
	Maker      string   `json:"maker"`
	Brand      string   `json:"brand"`
	Flagged    bool     `json:"flagged"`
	Confidence string   `json:"confidence"`
	Components []string `json:"components"`
	Status     string   `json:"status"`
	Review     []string `json:"review"`
	Candidates []string `json:"candidates"`
	Evidence   []struct {
		Probe  string `json:"probe"`
		Detail string `json:"detail"`
	} `json:"evidence"`
}

// status is the survey's status field, or, from a survey that predates it,
// the same word derived from flagged and maker.
func (d Device) status() string {
	switch {
	case d.Status != "":
		return d.Status
	case d.Flagged:
		return "flagged"
	case d.Maker == "":
		return "unknown"
	}
	return "clean"
}

// Result is one entry served in one mode.
type Result struct {
	Entry  realworld.Entry
	Mode   replay.Mode
	MAC    string
	Served bool   // the converter could serve every fact and the lab ran it
	Found  bool   // the survey listed the device
	Device Device // as the survey listed it
	// WantFlag is the default policy's expectation from the entry's maker
	// and component.
	WantFlag   bool
	Right      bool // maker (brand, component) right, no review, flagged exactly when expected
	Review     bool
	FalseFlag  bool
	MissedFlag bool
	Problem    string // why it is not right
}

// Batch is one lab: one mode, up to BatchSize devices.
type Batch struct {
	Mode    replay.Mode
	Index   int
	Devices int
	Up      time.Duration // lab up, camsims ready
	Survey  time.Duration // camwarden survey wall time
	Err     error
}

// Report is the outcome of a replay.
type Report struct {
	Results []Result
	Batches []Batch
}

// WantFlag says whether the default policy flags what entry e describes.
func WantFlag(e realworld.Entry) bool {
	return slices.Contains(enforce.DefaultFlaggedMakers, e.Maker) ||
		(e.Component != "" && slices.Contains(enforce.DefaultFlaggedComponents, e.Component))
}

// Run replays entries in every mode of opts. It returns an error only when
// a lab cannot be built or a survey cannot run at all; wrong verdicts are in
// the report.
func Run(ctx context.Context, entries []realworld.Entry, opts Options) (*Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.StateDir == "" {
		dir, err := os.MkdirTemp("", "replaylab-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		opts.StateDir = dir
	}
	cfg := filepath.Join(opts.StateDir, "survey.yaml")
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfg, []byte(SurveyConfig()), 0o600); err != nil {
		return nil, err
	}
	type job struct {
		mode   replay.Mode
		prefix string
		batch  int
		lo, hi int
	}
	var jobs []job
	nb := (len(entries) + opts.BatchSize - 1) / opts.BatchSize
	for mi, mode := range opts.Modes {
		for b := 0; b < nb; b++ {
			// Even batches: 250 entries become 125+125, not 120+120+10.
			jobs = append(jobs, job{mode, fmt.Sprintf("%s%d%d", opts.Prefix, mi, b), b, b * len(entries) / nb, (b + 1) * len(entries) / nb})
		}
	}
	rep := &Report{}
	// Labs go up one after another and are surveyed side by side, Parallel
	// at a time: building a lab is CPU work (ip(8), camsim start-up) that
	// would slow a survey running next to it, while surveys mostly wait.
	for lo := 0; lo < len(jobs); lo += opts.Parallel {
		group := jobs[lo:min(lo+opts.Parallel, len(jobs))]
		runs := make([]*batchRun, len(group))
		var errs []error
		for i, j := range group {
			runs[i] = newBatch(entries[j.lo:j.hi], j.mode, j.prefix, j.batch)
			if err := runs[i].up(ctx, opts); err != nil {
				errs = append(errs, fmt.Errorf("replaylab: mode %s batch %d: %w", j.mode, j.batch, err))
				break
			}
		}
		if len(errs) == 0 {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for _, r := range runs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := r.survey(ctx, cfg, opts); err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("replaylab: mode %s batch %d: %w", r.batch.Mode, r.batch.Index, err))
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
		}
		for _, r := range runs {
			if r == nil {
				continue
			}
			r.down()
			fmt.Fprintf(opts.Log, "replaylab: mode %s batch %d: %d devices, lab up %s, survey %s\n", r.batch.Mode, r.batch.Index,
				r.batch.Devices, r.batch.Up.Round(time.Millisecond), r.batch.Survey.Round(time.Millisecond))
			rep.Batches = append(rep.Batches, r.batch)
			rep.Results = append(rep.Results, r.results...)
		}
		if err := errors.Join(errs...); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// SurveyConfig is the survey's configuration on a replay site: the
// installer's ONVIF account and the SNMP community every replayed device
// uses.
func SurveyConfig() string {
	return fmt.Sprintf("probing:\n  onvif_credentials:\n    - {user: %q, password: %q}\n  snmp_communities: [%q]\n",
		replay.ONVIFUser, replay.ONVIFPassword, replay.SNMPCommunity)
}

// batchRun is one lab: its entries' devices, the lab once up, and the
// results once surveyed.
type batchRun struct {
	batch   Batch
	results []Result
	spec    *lab.Spec
	prefix  string
	byMAC   map[string]int
	lab     *lab.Lab
}

// newBatch converts entries for one lab under prefix; an entry camsim
// cannot serve is recorded as not served and left out of the lab.
func newBatch(entries []realworld.Entry, mode replay.Mode, prefix string, index int) *batchRun {
	r := &batchRun{
		batch:   Batch{Mode: mode, Index: index},
		results: make([]Result, len(entries)),
		spec:    &lab.Spec{Name: fmt.Sprintf("realworld-%s-%d", mode, index), Source: "replaylab"},
		prefix:  prefix,
		byMAC:   map[string]int{},
	}
	for i, e := range entries {
		n := i + 1
		r.results[i] = Result{Entry: e, Mode: mode, WantFlag: WantFlag(e)}
		p, err := replay.Profile(e, mode, n)
		if err != nil {
			r.results[i].Problem = "not served: " + err.Error()
			continue
		}
		p.Flagged = r.results[i].WantFlag
		r.spec.Profiles = append(r.spec.Profiles, p)
		r.spec.Devices = append(r.spec.Devices, lab.SpecDevice{Name: fmt.Sprintf("e%03d", n), Profile: p.Name})
		r.results[i].MAC = replay.MAC(n)
		r.results[i].Served = true
		r.byMAC[r.results[i].MAC] = i
	}
	return r
}

// up builds the lab and starts every device.
func (r *batchRun) up(ctx context.Context, opts Options) error {
	if len(r.spec.Devices) == 0 {
		return nil
	}
	if err := r.spec.Validate(); err != nil {
		return err
	}
	// The lab keeps its state where labs do (/run/camwarden-lab/<prefix>),
	// so the Down below finds and stops what a run killed hard left.
	lopts := lab.Options{Prefix: r.prefix, Camsim: opts.Camsim, ReadyTimeout: 60 * time.Second, Parallel: 16}
	_ = lab.Down(ctx, lopts)
	start := time.Now()
	l, err := lab.Up(ctx, r.spec, lopts)
	r.batch.Up = time.Since(start)
	if err != nil {
		r.batch.Err = err
		return err
	}
	r.lab = l
	r.batch.Devices = len(l.Devices())
	for _, d := range l.Devices() {
		if i, ok := r.byMAC[d.MAC.String()]; !ok || r.results[i].MAC != d.MAC.String() {
			r.batch.Err = fmt.Errorf("lab device %s has MAC %s, which no entry was given", d.Name, d.MAC)
			return r.batch.Err
		}
	}
	return nil
}

// down removes the lab; safe without one.
func (r *batchRun) down() {
	if r.lab == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = r.lab.Down(ctx)
	r.lab = nil
}

// survey runs camwarden survey in the lab's appliance namespace and scores
// every served entry.
func (r *batchRun) survey(ctx context.Context, cfg string, opts Options) (err error) {
	defer func() { r.batch.Err = err }()
	if r.lab == nil {
		return nil
	}
	cmd, err := r.lab.Command(ctx, "app", opts.Camwarden, "survey", "--iface", "eth0", "--duration", opts.Survey.String(),
		"--json", "--config", cfg)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	r.batch.Survey = time.Since(start)
	if err != nil {
		return fmt.Errorf("survey: %v: %s", err, tail(stderr.String(), 2000))
	}
	var doc struct {
		Devices []Device `json:"devices"`
	}
	if err := json.NewDecoder(io.LimitReader(bytes.NewReader(out), 64<<20)).Decode(&doc); err != nil {
		return fmt.Errorf("survey JSON: %w", err)
	}
	for _, d := range doc.Devices {
		if i, ok := r.byMAC[d.MAC]; ok {
			r.results[i].Found = true
			r.results[i].Device = d
		}
	}
	for i := range r.results {
		if r.results[i].Served {
			judge(&r.results[i])
		}
	}
	return nil
}

// judge scores one served entry.
func judge(r *Result) {
	d, e := r.Device, r.Entry
	if !r.Found {
		r.Problem = "not in the survey"
		r.MissedFlag = r.WantFlag
		return
	}
	st := d.status()
	r.Review = st == "review"
	r.FalseFlag = d.Flagged && !r.WantFlag
	r.MissedFlag = r.WantFlag && !d.Flagged
	var why []string
	if r.Review {
		why = append(why, fmt.Sprintf("review (%s; candidates %v)", strings.Join(d.Review, "; "), d.Candidates))
	}
	if d.Maker != e.Maker {
		why = append(why, fmt.Sprintf("maker %q, want %q", d.Maker, e.Maker))
	}
	if e.Brand != "" && !strings.EqualFold(d.Brand, e.Brand) {
		why = append(why, fmt.Sprintf("brand %q, want %q", d.Brand, e.Brand))
	}
	if e.Component != "" && !slices.Contains(d.Components, e.Component) {
		why = append(why, fmt.Sprintf("components %v, want %s", d.Components, e.Component))
	}
	if d.Flagged != r.WantFlag {
		why = append(why, fmt.Sprintf("flagged %v, want %v", d.Flagged, r.WantFlag))
	}
	r.Right = len(why) == 0
	r.Problem = strings.Join(why, "; ")
}

// Score is one row of the score table.
type Score struct {
	Entries, Right, Wrong, Review, FalseFlags, MissedFlags, NotServed int
}

func (s *Score) add(r Result) {
	s.Entries++
	switch {
	case !r.Served:
		s.NotServed++
	case r.Right:
		s.Right++
	case r.Review:
		s.Review++
	default:
		s.Wrong++
	}
	if r.FalseFlag {
		s.FalseFlags++
	}
	if r.MissedFlag {
		s.MissedFlags++
	}
}

// Scores totals the report per mode ("" family) and per mode and family
// (the corpus file name without .yaml).
func (rep *Report) Scores() map[replay.Mode]map[string]*Score {
	out := map[replay.Mode]map[string]*Score{}
	for _, r := range rep.Results {
		m := out[r.Mode]
		if m == nil {
			m = map[string]*Score{"": {}}
			out[r.Mode] = m
		}
		fam := Family(r.Entry)
		if m[fam] == nil {
			m[fam] = &Score{}
		}
		m[fam].add(r)
		m[""].add(r)
	}
	return out
}

// Family is the corpus file an entry comes from, without .yaml.
func Family(e realworld.Entry) string { return strings.TrimSuffix(e.File, ".yaml") }

// WriteTable prints the score table (Markdown): per mode, one row per
// family and a total, then the time each lab took.
func (rep *Report) WriteTable(w io.Writer) {
	scores := rep.Scores()
	fmt.Fprintln(w, "| server mode | family | entries | right | wrong | review | false flags | missed flags | not served |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, mode := range replay.Modes {
		m := scores[mode]
		if m == nil {
			continue
		}
		fams := make([]string, 0, len(m))
		for f := range m {
			if f != "" {
				fams = append(fams, f)
			}
		}
		slices.Sort(fams)
		row := func(label string, s *Score) {
			fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %d | %d |\n", mode, label, s.Entries, s.Right, s.Wrong,
				s.Review, s.FalseFlags, s.MissedFlags, s.NotServed)
		}
		for _, f := range fams {
			row(f, m[f])
		}
		row("**all**", m[""])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server mode | batch | devices | lab up s | survey s |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, b := range rep.Batches {
		fmt.Fprintf(w, "| %s | %d | %d | %.2f | %.2f |\n", b.Mode, b.Index, b.Devices, b.Up.Seconds(), b.Survey.Seconds())
	}
}

// Failures lists every entry that is not right, one line each, with the
// entry's facts and the survey's evidence for it.
func (rep *Report) Failures() []string {
	var out []string
	for _, r := range rep.Results {
		if r.Right {
			continue
		}
		keys := make([]string, 0, len(r.Entry.Facts))
		for k := range r.Entry.Facts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		facts := make([]string, len(keys))
		for i, k := range keys {
			facts[i] = fmt.Sprintf("%s=%q", k, r.Entry.Facts[k])
		}
		line := fmt.Sprintf("%s (%s) mode %s [%s]: %s", r.Entry.ID, r.Entry.File, r.Mode, strings.Join(facts, " "), r.Problem)
		if r.Found {
			ev := make([]string, len(r.Device.Evidence))
			for i, x := range r.Device.Evidence {
				ev[i] = x.Probe + ": " + x.Detail
			}
			line += fmt.Sprintf("; status %s, confidence %s, evidence: %s", r.Device.status(), r.Device.Confidence, strings.Join(ev, " | "))
		}
		out = append(out, line)
	}
	return out
}

// Err summarises the batches that could not run.
func (rep *Report) Err() error {
	var errs []error
	for _, b := range rep.Batches {
		if b.Err != nil {
			errs = append(errs, fmt.Errorf("mode %s batch %d: %w", b.Mode, b.Index, b.Err))
		}
	}
	return errors.Join(errs...)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
