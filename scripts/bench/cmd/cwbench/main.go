//go:build linux

// Command cwbench runs the lab benchmarks and prints their tables: survey
// speed and accuracy against nmap and arp-scan on the 56-device lab,
// reaction time from a camera's first packet to its verdict and to the
// relay opening, and how many discovery packets the capture sees under a
// flood of video, and the real-world corpus replayed in three web server
// modes (score table). These are measurements, not tests: nothing passes or
// fails, every loop is bounded, and the lab (namespaces prefixed "cwb") is
// torn down on exit, Ctrl-C included.
//
//	sudo bin/cwbench [survey|reaction|filter|realworld|memory|outbox|all] [--trials N] [--quick] [--bin DIR]
//	sudo bin/cwbench survey --tools camwarden --labs lab50 --runs 5 [--trace DIR]
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// prefix names every namespace cwbench creates; never the demo's "cw".
// CWBENCH_PREFIX (short: it is part of veth names) lets two runs on one
// shared machine stay out of each other's way.
var prefix = cmp.Or(os.Getenv("CWBENCH_PREFIX"), "cwb")

type config struct {
	what   string
	trials int
	quick  bool
	bin    string
	// survey only: which tools and labs, how many camwarden runs per lab,
	// and where to keep each run's -v log (see surveyFlags).
	tools, labs  []string
	runs         int
	trace        string
	surveyConfig string
	out          io.Writer
}

func main() {
	// Hidden helpers run inside lab namespaces (cwbench re-executes itself
	// through `ip netns exec`).
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "_") {
		if err := helper(os.Args[1], os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "cwbench", os.Args[1]+":", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cwbench:", err)
		fmt.Fprintln(os.Stderr, "usage: cwbench [survey|reaction|filter|realworld|memory|outbox|all] [--trials N] [--quick] [--bin DIR]\n       survey only: [--tools camwarden,nmap,arp-scan] [--labs lab10,lab50,lab200] [--runs N] [--trace DIR] [--config FILE]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = run(ctx, cfg)
	// Whatever happened, nothing of ours stays behind.
	cleanupAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cwbench:", err)
		os.Exit(1)
	}
}

func parseArgs(args []string) (config, error) {
	cfg := config{what: "all", out: os.Stdout}
	rest := args
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			cfg.what = a
			rest = append(append([]string{}, args[:i]...), args[i+1:]...)
			break
		}
	}
	fs := flag.NewFlagSet("cwbench", flag.ContinueOnError)
	fs.IntVar(&cfg.trials, "trials", 0, "reaction trials per path (default 100, 5 with --quick)")
	fs.BoolVar(&cfg.quick, "quick", false, "CI smoke: few trials, short traffic")
	exe, _ := os.Executable()
	fs.StringVar(&cfg.bin, "bin", filepath.Dir(exe), "directory holding camwarden and camsim (make build)")
	surveyFlags(fs, &cfg)
	if err := fs.Parse(rest); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch cfg.what {
	case "survey", "reaction", "filter", "realworld", "all":
	default:
		if _, ok := extraBench[cfg.what]; ok {
			break
		}
		return cfg, fmt.Errorf("unknown benchmark %q", cfg.what)
	}
	if err := checkSurveyFlags(&cfg); err != nil {
		return cfg, err
	}
	if cfg.trials <= 0 {
		cfg.trials = 100
		if cfg.quick {
			cfg.trials = 5
		}
	}
	return cfg, nil
}

// extraBench holds subcommands registered by their own files (one line
// each: extraBench["name"] = benchName in an init), run after the others
// by "all". A bench without a lab may run without root.
var extraBench = map[string]extra{}

type extra struct {
	run     func(context.Context, config) error
	needLab bool // root, the binaries and the namespace lab
}

func run(ctx context.Context, cfg config) error {
	if e, ok := extraBench[cfg.what]; ok && !e.needLab {
		fmt.Fprintf(cfg.out, "# cwbench %s — %s\n\n%s\n\n", cfg.what, time.Now().UTC().Format(time.RFC3339), machine())
		return e.run(ctx, cfg)
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root for network namespaces (sudo bin/cwbench ...)")
	}
	for _, b := range []string{"camwarden", "camsim"} {
		if _, err := os.Stat(filepath.Join(cfg.bin, b)); err != nil {
			return fmt.Errorf("%s not found in %s (make build, or --bin DIR): %w", b, cfg.bin, err)
		}
	}
	cleanupAll() // leftovers of a run killed hard
	fmt.Fprintf(cfg.out, "# cwbench %s — %s\n\n%s\n\n", cfg.what, time.Now().UTC().Format(time.RFC3339), machine())
	var errs []error
	if cfg.what == "survey" || cfg.what == "all" {
		if err := benchSurvey(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("survey: %w", err))
		}
	}
	if ctx.Err() == nil && (cfg.what == "reaction" || cfg.what == "all") {
		if err := benchReaction(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("reaction: %w", err))
		}
	}
	if ctx.Err() == nil && (cfg.what == "filter" || cfg.what == "all") {
		if err := benchFilter(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("filter: %w", err))
		}
	}
	if ctx.Err() == nil && (cfg.what == "realworld" || cfg.what == "all") {
		if err := benchRealworld(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("realworld: %w", err))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(extraBench)) {
		if ctx.Err() == nil && (cfg.what == name || cfg.what == "all") {
			if err := extraBench[name].run(ctx, cfg); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	fmt.Fprintf(cfg.out, "%s (at the end)\n", machine())
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// machine is the caveat line: these numbers depend on the box and its load.
func machine() string {
	load, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(load))
	if len(f) > 3 {
		f = f[:3]
	}
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	rel := make([]byte, 0, len(uts.Release))
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	return fmt.Sprintf("machine: nproc %d, load average %s, kernel %s, %s/%s, %s — numbers from a shared, loaded box are indicative only",
		runtime.NumCPU(), strings.Join(f, " "), rel, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
