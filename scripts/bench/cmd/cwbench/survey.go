//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/app"
	"github.com/camwarden/camwarden/scripts/bench"
	"github.com/camwarden/camwarden/scripts/lab"
)

// toolResult is one tool's row of the survey table.
type toolResult struct {
	name     string
	wall     time.Duration
	cpu      time.Duration // camwarden's own CPU time (user+system); 0 for the others
	correct  int           // devices whose maker it names, and no other
	flagged  int           // truly flagged devices it would flag
	falseFlg int           // devices it would flag that are not flagged
	seen     int           // lab devices it listed at all
	err      error
	misses   []string
}

// lab10Spec is the small site of the survey scaling run: ten hosts from
// lab50's mix, flagged and not.
const lab10Spec = `name: lab10
devices:
  - {profile: hikvision, count: 2}
  - {profile: hikvision-lts}
  - {profile: dahua, count: 2}
  - {profile: huawei}
  - {profile: axis}
  - {profile: hanwha}
  - {profile: pc}
  - {profile: printer}
`

// surveyTools and surveyLabs are what `cwbench survey` runs by default.
var (
	surveyTools = []string{"camwarden", "nmap", "arp-scan"}
	surveyLabs  = []string{"lab10", "lab50", "lab200"}
)

// errSkipped marks a tool left out with --tools.
var errSkipped = errors.New("skipped (--tools)")

// surveyFlags adds the survey's own options: nmap and arp-scan take
// minutes on lab200, so while tuning camwarden one runs it alone, on one
// lab, several times (the median is what counts on a shared machine).
func surveyFlags(fs *flag.FlagSet, cfg *config) {
	fs.Func("tools", "survey: comma-separated tools to run (default camwarden,nmap,arp-scan)", func(v string) error {
		cfg.tools = strings.Split(v, ",")
		return nil
	})
	fs.Func("labs", "survey: comma-separated labs (default lab10,lab50,lab200; --quick: lab10)", func(v string) error {
		cfg.labs = strings.Split(v, ",")
		return nil
	})
	fs.IntVar(&cfg.runs, "runs", 1, "survey: camwarden surveys per lab; the table shows the median run")
	fs.StringVar(&cfg.trace, "trace", "", "survey: run camwarden with -v and keep each run's log here (LAB-RUN.log)")
	fs.StringVar(&cfg.surveyConfig, "config", "", "survey: camwarden configuration file for the survey (probing settings to compare)")
}

func checkSurveyFlags(cfg *config) error {
	for _, t := range cfg.tools {
		if !slices.Contains(surveyTools, t) {
			return fmt.Errorf("--tools: unknown tool %q (want some of %s)", t, strings.Join(surveyTools, ","))
		}
	}
	for _, l := range cfg.labs {
		if !slices.Contains(surveyLabs, l) {
			return fmt.Errorf("--labs: unknown lab %q (want some of %s)", l, strings.Join(surveyLabs, ","))
		}
	}
	if cfg.runs < 1 || cfg.runs > 50 {
		return fmt.Errorf("--runs: want 1..50, got %d", cfg.runs)
	}
	if len(cfg.tools) == 0 {
		cfg.tools = surveyTools
	}
	if len(cfg.labs) == 0 {
		cfg.labs = surveyLabs
		if cfg.quick {
			cfg.labs = surveyLabs[:1]
		}
	}
	return nil
}

// surveyRow is one lab size of the scaling summary.
type surveyRow struct {
	name       string
	devices    int
	nameable   int
	wantFlag   int
	cw, nm, as toolResult
}

// benchSurvey surveys labs of 10, 50 and 200 devices (--quick: 10 only),
// each with camwarden, nmap and arp-scan in turn on the same running lab,
// and ends with the scaling summary: time per device should fall as the
// site grows, since discovery is one broadcast round whatever the size.
func benchSurvey(ctx context.Context, cfg config) error {
	var specs []*lab.Spec
	for _, n := range cfg.labs {
		var s *lab.Spec
		var err error
		if n == "lab10" {
			s, err = lab.ParseSpec([]byte(lab10Spec), "lab10")
		} else {
			s, err = lab.LoadSpec(n)
		}
		if err != nil {
			return err
		}
		specs = append(specs, s)
	}
	var rows []surveyRow
	var errs []error
	for _, spec := range specs {
		if ctx.Err() != nil {
			break
		}
		row, err := surveyLab(ctx, cfg, spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", spec.Name, err))
		}
		if row.devices > 0 {
			rows = append(rows, row)
		}
	}
	w := cfg.out
	fmt.Fprintf(w, "### survey scaling (issue 15): wall time and time per device\n\n")
	fmt.Fprintf(w, "| lab | devices | camwarden s | ms/device | makers right | flagged right | false flags | nmap s | nmap/camwarden | arp-scan s | arp-scan/camwarden | arp-scan makers right |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		sec := func(t toolResult) string {
			if errors.Is(t.err, errSkipped) {
				return "-"
			}
			if t.err != nil {
				return "error"
			}
			return fmt.Sprintf("%.2f", t.wall.Seconds())
		}
		ratio := func(t toolResult) string {
			if t.err != nil || r.cw.err != nil || r.cw.wall <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.1fx", float64(t.wall)/float64(r.cw.wall))
		}
		per := "-"
		if r.cw.err == nil {
			per = fmt.Sprintf("%.0f", float64(r.cw.wall.Milliseconds())/float64(r.devices))
		}
		asRight := "-"
		if r.as.err == nil {
			asRight = fmt.Sprintf("%d/%d", r.as.correct, r.nameable)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %d/%d | %d/%d | %d | %s | %s | %s | %s | %s |\n", r.name, r.devices, sec(r.cw), per,
			r.cw.correct, r.nameable, r.cw.flagged, r.wantFlag, r.cw.falseFlg, sec(r.nm), ratio(r.nm), sec(r.as), ratio(r.as), asRight)
	}
	fmt.Fprintln(w)
	return errors.Join(errs...)
}

func surveyLab(ctx context.Context, cfg config, spec *lab.Spec) (surveyRow, error) {
	row := surveyRow{name: spec.Name}
	l, err := upLab(ctx, cfg, spec)
	if err != nil {
		return row, err
	}
	// Let every camera finish booting (its chatter repeats after 2 s) so
	// no tool profits from it: a survey of a site that is already running.
	time.Sleep(4 * time.Second)
	devs := l.Devices()

	// Candidate makers: the lab's makers and the flagged ones; brands per maker.
	var makers []string
	brands := map[string][]string{}
	nameable, wantFlag := 0, 0
	for _, d := range devs {
		if d.Maker != "" {
			nameable++
			if !slices.Contains(makers, d.Maker) {
				makers = append(makers, d.Maker)
			}
			if d.Brand != "" && !slices.Contains(brands[d.Maker], d.Brand) {
				brands[d.Maker] = append(brands[d.Maker], d.Brand)
			}
		}
		if d.Flagged {
			wantFlag++
		}
	}
	for _, m := range bench.FlaggedMakers {
		if !slices.Contains(makers, m) {
			makers = append(makers, m)
		}
	}

	cw := toolResult{name: "camwarden survey", err: errSkipped}
	if slices.Contains(cfg.tools, "camwarden") {
		cw = runCamwardenSurveys(ctx, cfg, l, spec.Name, devs)
	}
	nm := toolResult{name: "nmap", err: errSkipped}
	if slices.Contains(cfg.tools, "nmap") {
		nm = runTextTool(ctx, l, devs, makers, brands, "nmap", nmapArgs(cfg.quick), parseNmap)
	}
	as := toolResult{name: "arp-scan", err: errSkipped}
	if slices.Contains(cfg.tools, "arp-scan") {
		as = runTextTool(ctx, l, devs, makers, brands, "arp-scan", []string{"arp-scan", "--interface", "eth0", "--plain", lab.CameraNet.String()},
			func(b []byte) (map[netip.Addr]string, error) { return bench.ParseArpScan(bytes.NewReader(b)) })
	}

	w := cfg.out
	row.devices, row.nameable, row.wantFlag, row.cw, row.nm, row.as = len(devs), nameable, wantFlag, cw, nm, as
	fmt.Fprintf(w, "## survey (issues 4, 15): %s, %d emulated devices, %d with a nameable maker, %d flagged\n\n", spec.Name, len(devs), nameable, wantFlag)
	fmt.Fprintf(w, "nmap: `%s`\n\n", strings.Join(nmapArgs(cfg.quick), " "))
	fmt.Fprintf(w, "Maker correct = the tool's output for that host names the true maker (id, brand on the box, or alias: %v) and no other maker; ", bench.Aliases)
	fmt.Fprintf(w, "would flag = it names a flagged maker (%s). For camwarden: the maker field equals the ground truth, and its own flag.\n\n", strings.Join(bench.FlaggedMakers, ", "))
	fmt.Fprintf(w, "| tool | wall s | devices listed | maker correct (of %d) | flagged found (of %d) | false flags | camwarden speed-up |\n|---|---|---|---|---|---|---|\n", nameable, wantFlag)
	for _, r := range []toolResult{cw, nm, as} {
		if errors.Is(r.err, errSkipped) {
			continue
		}
		if r.err != nil {
			fmt.Fprintf(w, "| %s | error: %v | | | | | |\n", r.name, r.err)
			continue
		}
		ratio := "1x"
		if r.name != "camwarden survey" && cw.err == nil && cw.wall > 0 {
			ratio = fmt.Sprintf("%.1fx", float64(r.wall)/float64(cw.wall))
		}
		fmt.Fprintf(w, "| %s | %.2f | %d/%d | %d | %d | %d | %s |\n", r.name, r.wall.Seconds(), r.seen, len(devs), r.correct, r.flagged, r.falseFlg, ratio)
	}
	fmt.Fprintln(w)
	for _, r := range []toolResult{cw, nm, as} {
		if len(r.misses) > 0 {
			fmt.Fprintf(w, "%s missed or misnamed: %s\n\n", r.name, strings.Join(r.misses, "; "))
		}
	}
	if cw.err == nil && nm.err == nil {
		fmt.Fprintf(w, "camwarden vs nmap: %.1fx faster (target >= 10x); makers named %d vs %d of %d.\n\n",
			float64(nm.wall)/float64(cw.wall), cw.correct, nm.correct, nameable)
	}
	if err := l.Down(context.Background()); err != nil {
		return row, err
	}
	if errors.Is(cw.err, errSkipped) {
		return row, nil
	}
	return row, cw.err
}

// runCamwardenSurveys surveys cfg.runs times on the same running lab and
// returns the median run (by wall time), after printing every run's time,
// accuracy and the load average, which on a shared machine says how much
// a time can be trusted.
func runCamwardenSurveys(ctx context.Context, cfg config, l *lab.Lab, labName string, devs []lab.Device) toolResult {
	var rs []toolResult
	for i := range cfg.runs {
		if ctx.Err() != nil {
			break
		}
		log := ""
		if cfg.trace != "" {
			log = filepath.Join(cfg.trace, fmt.Sprintf("%s-%d.log", labName, i+1))
		}
		r := runCamwardenSurvey(ctx, cfg, l, devs, log)
		fmt.Fprintf(os.Stderr, "cwbench: %s camwarden run %d/%d: %.2f s (%.2f s CPU), %d/%d listed, %d makers right, %d flagged, %d false flags, load %s%s\n",
			labName, i+1, cfg.runs, r.wall.Seconds(), r.cpu.Seconds(), r.seen, len(devs), r.correct, r.flagged, r.falseFlg, loadAvg(), errText(r.err))
		rs = append(rs, r)
		if i+1 < cfg.runs {
			time.Sleep(time.Second) // let the last run's sockets and ARP entries settle
		}
	}
	if len(rs) == 0 {
		return toolResult{name: "camwarden survey", err: ctx.Err()}
	}
	if len(rs) > 1 {
		w := cfg.out
		fmt.Fprintf(w, "camwarden survey on %s, %d runs (load average: %s):", labName, len(rs), loadAvg())
		for _, r := range rs {
			fmt.Fprintf(w, " %.2f s (%.2f s CPU; %d/%d listed, %d makers right, %d flagged, %d false)", r.wall.Seconds(), r.cpu.Seconds(), r.seen, len(devs), r.correct, r.flagged, r.falseFlg)
		}
		fmt.Fprintf(w, "; median shown below.\n\n")
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
	return rs[len(rs)/2]
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// loadAvg is /proc/loadavg's three averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func runCamwardenSurvey(ctx context.Context, cfg config, l *lab.Lab, devs []lab.Device, logFile string) toolResult {
	r := toolResult{name: "camwarden survey"}
	args := []string{"survey", "--iface", "eth0", "--duration", "60s", "--json"}
	if logFile != "" {
		args = append(args, "-v")
	}
	if cfg.surveyConfig != "" {
		args = append(args, "--config", cfg.surveyConfig)
	}
	cmd, err := l.Command(ctx, "app", filepath.Join(cfg.bin, "camwarden"), args...)
	if err != nil {
		r.err = err
		return r
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if logFile != "" {
		defer func() {
			if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err == nil {
				_ = os.WriteFile(logFile, stderr.Bytes(), 0o644)
			}
		}()
	}
	start := time.Now()
	out, err := cmd.Output()
	r.wall = time.Since(start)
	if ps := cmd.ProcessState; ps != nil {
		r.cpu = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		r.err = fmt.Errorf("%v: %s", err, bench.Tail(stderr.String(), 400))
		return r
	}
	got, err := app.ReadJSON(bytes.NewReader(out))
	if err != nil {
		r.err = err
		return r
	}
	byMAC := map[string]int{}
	for i, d := range got {
		byMAC[d.MAC] = i
	}
	for _, want := range devs {
		i, ok := byMAC[want.MAC.String()]
		if !ok {
			r.misses = append(r.misses, want.Name+" not listed")
			continue
		}
		r.seen++
		g := got[i]
		switch {
		case want.Maker != "" && g.Maker == want.Maker:
			r.correct++
		case want.Maker != "":
			r.misses = append(r.misses, fmt.Sprintf("%s named %q (want %s)", want.Name, g.Maker, want.Maker))
		case g.Maker != "":
			r.misses = append(r.misses, fmt.Sprintf("%s named %q (it has no nameable maker)", want.Name, g.Maker))
		}
		if g.Flagged && want.Flagged {
			r.flagged++
		} else if g.Flagged {
			r.falseFlg++
		}
	}
	return r
}

// nmapArgs is the reference nmap run; --quick (CI smoke, under a minute)
// uses host discovery only (ARP, MAC vendor), as fast as nmap goes.
func nmapArgs(quick bool) []string {
	if quick {
		return []string{"nmap", "-n", "-sn", "-e", "eth0", "-oX", "-", lab.CameraNet.String()}
	}
	return []string{"nmap", "-n", "-T4", "-e", "eth0", "-sV", "-p", "80,443,554,8000,37777",
		"--script", "broadcast-wsdd-discover", "-oX", "-", lab.CameraNet.String()}
}

func parseNmap(b []byte) (map[netip.Addr]string, error) {
	hosts, err := bench.ParseNmapXML(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]string{}
	for ip, h := range hosts {
		if h.Up {
			out[ip] = h.Text
		}
	}
	return out, nil
}

// runTextTool runs a reference scanner in the appliance namespace and
// judges what it printed for each lab device.
func runTextTool(ctx context.Context, l *lab.Lab, devs []lab.Device, makers []string, brands map[string][]string,
	name string, args []string, parse func([]byte) (map[netip.Addr]string, error)) toolResult {
	r := toolResult{name: name}
	if _, err := exec.LookPath(args[0]); err != nil {
		r.err = fmt.Errorf("%s not installed (apt-get install %s)", args[0], args[0])
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd, err := l.Command(ctx, "app", args[0], args[1:]...)
	if err != nil {
		r.err = err
		return r
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	fmt.Fprintf(os.Stderr, "cwbench: running %s\n", strings.Join(args, " "))
	start := time.Now()
	out, err := cmd.Output()
	r.wall = time.Since(start)
	if err != nil {
		r.err = fmt.Errorf("%v: %s", err, bench.Tail(stderr.String(), 400))
		return r
	}
	_ = os.WriteFile(filepath.Join(l.StateDir(), name+".out"), out, 0o644)
	texts, err := parse(out)
	if err != nil {
		r.err = err
		return r
	}
	judge(&r, devs, makers, brands, texts)
	return r
}

func judge(r *toolResult, devs []lab.Device, makers []string, brands map[string][]string, texts map[netip.Addr]string) {
	for _, d := range devs {
		text, ok := texts[d.IP]
		if !ok {
			r.misses = append(r.misses, d.Name+" not listed")
			continue
		}
		r.seen++
		j := bench.JudgeText(text, d.Maker, makers, brands)
		if j.Correct {
			r.correct++
		} else if d.Maker != "" {
			r.misses = append(r.misses, fmt.Sprintf("%s named %v (want %s)", d.Name, j.Named, d.Maker))
		}
		if j.Flags && d.Flagged {
			r.flagged++
		} else if j.Flags {
			r.falseFlg++
		}
	}
}
