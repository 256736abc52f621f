// Command camwarden is the appliance: `run` is the daemon, `survey` a
// one-shot look at a VLAN, `analyze` reads a capture, `explain` says why a
// device got its verdict, `status` reads the daemon's state. main only
// parses flags and wires; the work is in firmware/app.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/camwarden/camwarden/board"
	"github.com/camwarden/camwarden/firmware/app"
	"github.com/camwarden/camwarden/firmware/buildinfo"
	"github.com/camwarden/camwarden/firmware/cliflag"
	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/ota/update"
	"github.com/camwarden/camwarden/probes/capture"
	"golang.org/x/term"
)

const defaultConfig = "/etc/camwarden/camwarden.yaml"

type command struct {
	usage string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"run":        {"run the appliance daemon", cmdRun},
	"survey":     {"identify every device on a VLAN now and print a table or JSON", cmdSurvey},
	"analyze":    {"identify devices from a pcap/pcapng capture file, offline (exit 3: file damaged, partial result)", cmdAnalyze},
	"explain":    {"explain in plain words why a device got its verdict", cmdExplain},
	"status":     {"print the running daemon's state", cmdStatus},
	"board-test": {"cycle each LED (and the relay with --relay) on a real board", cmdBoardTest},
	"config":     {"config sample | config check [-config FILE]", cmdConfig},
	"version":    {"print the version", cmdVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs one subcommand and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "camwarden: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "camwarden %s: %v\n", args[0], err)
		if errors.As(err, new(*capture.DamagedError)) {
			return ExitDamaged
		}
		return 1
	}
	return 0
}

// ExitDamaged is analyze's exit code for a damaged capture: the devices
// read before the damage are printed as usual, the damage goes to stderr,
// and scripts can tell a partial answer (3) from a failure (1), a usage
// error (2) and a whole capture (0).
const ExitDamaged = 3

func usage(w io.Writer) {
	fmt.Fprintf(w, "camwarden %s: finds and flags restricted CCTV equipment on a camera VLAN\n\nUsage: camwarden COMMAND [flags and arguments, in any order; -- ends the flags]\n\nCommands:\n", buildinfo.Version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].usage)
	}
	fmt.Fprintln(w, "\nRun 'camwarden COMMAND -h' for a command's flags.")
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("camwarden "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func logger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// loadConfig reads the file, or starts from defaults when the default path
// does not exist (first boot); an explicitly named missing file is an error.
func loadConfig(path string, explicit bool) (config.Config, bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !explicit {
		c := config.Default()
		return c, false, nil
	}
	c, err := config.Load(path)
	return c, true, err
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("config", defaultConfig, "configuration file")
	view := fs.Bool("view", false, "redraw the live inventory on the terminal (demo)")
	if err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	cfg, found, err := loadConfig(*cfgPath, flagSet(fs, "config"))
	if err != nil {
		return err
	}
	log := logger(stderr, cfg.LogLevel)
	if !found {
		log.Warn("no configuration file; starting unconfigured with defaults", "path", *cfgPath,
			"hint", "camwarden config sample > "+*cfgPath+" and name the camera interface")
		if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
			// First boot without the package's state directory: keep going in memory.
			cfg.StateDir, _ = os.MkdirTemp("", "camwarden-state-")
		}
	}
	// A firmware update may have switched slots: run the slot's binary
	// (same PID, so systemd's supervision carries over). Any failure here
	// falls back to running this binary, never to not running at all.
	dec, err := update.Boot(filepath.Join(cfg.StateDir, "update"))
	if err != nil {
		log.Warn("firmware slots unreadable; running this binary", "err", err)
	} else if dec.Launch {
		if err := update.Exec(dec, os.Args); err != nil {
			log.Error("could not start the active firmware slot; running this binary", "slot", dec.Slot, "err", err)
		}
	}
	// On a console board (lab, demo) a line typed on stdin is a button
	// press: Enter acknowledges. Under systemd stdin is /dev/null.
	o := app.RunOptions{Log: log, BoardIO: app.BoardIO{Out: stdout, In: os.Stdin}, Update: dec}
	if *view {
		// The view owns the terminal: the console board logs its changes as
		// lines on stderr instead.
		o.View = stdout
		o.BoardIO = app.BoardIO{Out: stderr, In: os.Stdin, Lines: true}
	}
	err = app.Run(ctx, cfg, o)
	if errors.Is(err, app.ErrRestart) {
		log.Info("relaunching for a firmware slot switch")
		return update.Relaunch(os.Args)
	}
	return err
}

// configFlag adds -config to fs and returns what loads it after Parse: an
// explicitly named file must exist; the default path may be missing (first
// boot), which gives the defaults.
func configFlag(fs *flag.FlagSet, usage string) func() (config.Config, bool, error) {
	path := fs.String("config", defaultConfig, usage)
	return func() (config.Config, bool, error) { return loadConfig(*path, flagSet(fs, "config")) }
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func cmdSurvey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("survey", stderr)
	iface := fs.String("iface", "", "interface on the camera VLAN (required)")
	subnet := fs.String("subnet", "", "CIDR(s) to sweep, comma separated (default: the interface's subnet)")
	dur := fs.Duration("duration", 30*time.Second, "upper bound; the survey ends once every device is probed")
	passive := fs.Bool("passive", false, "listen only for the whole duration, send nothing")
	asJSON := fs.Bool("json", false, "print the survey JSON instead of a table")
	loadCfg := configFlag(fs, "configuration file for probe settings and credentials (optional)")
	verbose := fs.Bool("v", false, "log probe details to stderr")
	reportFile := fs.String("report", "", "also write the site's risk-assessment report (one HTML file) here")
	reportData := fs.String("report-data", "", "with --report: also write the report's input data (JSON) here")
	if err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	if *iface == "" {
		return errors.New("--iface is required: name the interface on the camera VLAN (camwarden never probes a network nobody named)")
	}
	cfg, _, err := loadCfg()
	if err != nil {
		return err
	}
	var subnets []string
	if *subnet != "" {
		subnets = strings.Split(*subnet, ",")
		c := config.Default()
		c.Interfaces = []config.Interface{{Name: *iface, Subnets: subnets}}
		if err := c.Validate(); err != nil {
			return fmt.Errorf("--subnet: %w", err)
		}
	}
	pol, err := app.PolicyFromConfig(cfg.Policy)
	if err != nil {
		return err
	}
	level := "warn"
	if *verbose {
		level = "debug"
	}
	o := app.SurveyOptions{Iface: *iface, Subnets: subnets, Duration: *dur, Passive: *passive, Probing: cfg.Probing,
		Policy: pol, Log: logger(stderr, level)}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Progress = stderr
	}
	devs, err := app.Survey(ctx, o)
	if err != nil {
		return err
	}
	if *reportFile != "" {
		if err := writeSurveyReport(*reportFile, *reportData, *iface, devs, cfg.Policy); err != nil {
			return err
		}
	}
	return writeDevices(stdout, devs, *asJSON)
}

// writeDevices prints survey/analyze output: the public JSON or a table.
func writeDevices(w io.Writer, devs []report.Device, asJSON bool) error {
	if asJSON {
		return app.WriteJSON(w, devs)
	}
	return app.WriteTable(w, devs)
}

func cmdAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("analyze", stderr)
	asJSON := fs.Bool("json", false, "print the survey JSON instead of a table")
	loadCfg := configFlag(fs, "configuration file for the policy (optional)")
	if err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: camwarden analyze [--json] FILE.pcap")
	}
	cfg, _, err := loadCfg()
	if err != nil {
		return err
	}
	pol, err := app.PolicyFromConfig(cfg.Policy)
	if err != nil {
		return err
	}
	devs, err := app.Analyze(ctx, fs.Arg(0), pol, logger(stderr, "warn"))
	if err != nil && !errors.As(err, new(*capture.DamagedError)) {
		return err
	}
	if werr := writeDevices(stdout, devs, *asJSON); werr != nil {
		return werr
	}
	return err
}

func cmdExplain(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("explain", stderr)
	from := fs.String("from", "", "a survey/analyze JSON file (default: the running daemon's state)")
	loadCfg := configFlag(fs, "configuration file (for state_dir)")
	if err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: camwarden explain [--from survey.json] MAC|IP|RECORDER-MAC/chN")
	}
	var devs []report.Device
	if *from != "" {
		f, err := os.Open(*from)
		if err != nil {
			return err
		}
		defer f.Close()
		if devs, err = app.ReadJSON(f); err != nil {
			return fmt.Errorf("%s: %w", *from, err)
		}
	} else {
		cfg, _, err := loadCfg()
		if err != nil {
			return err
		}
		snap, err := app.ReadSnapshot(cfg.StateDir)
		if err != nil {
			return err
		}
		devs = snap.Devices
	}
	want := strings.ToLower(fs.Arg(0))
	for _, d := range devs {
		if strings.ToLower(d.MAC) == want || d.IP == want || d.ID != "" && strings.ToLower(d.ID) == want {
			return app.Explain(stdout, d)
		}
	}
	return fmt.Errorf("no device %s among %d known devices", fs.Arg(0), len(devs))
}

func cmdStatus(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	loadCfg := configFlag(fs, "configuration file (for state_dir)")
	asJSON := fs.Bool("json", false, "print the raw state snapshot")
	if err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadCfg()
	if err != nil {
		return err
	}
	snap, err := app.ReadSnapshot(cfg.StateDir)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
	}
	return app.WriteStatus(stdout, app.ApplianceID(cfg), snap)
}

func cmdBoardTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("board-test", stderr)
	loadCfg := configFlag(fs, "configuration file (board section)")
	relay := fs.Bool("relay", false, "also click the relay (cuts the uplink briefly!)")
	if err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadCfg()
	if err != nil {
		return err
	}
	b, err := app.OpenBoard(cfg.Board, app.BoardIO{Out: stdout}, logger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer b.Close()
	return board.SelfTest(ctx, b, *relay, stdout)
}

func cmdConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: camwarden config sample | camwarden config check [-config FILE]")
	}
	switch args[0] {
	case "sample":
		_, err := stdout.Write(config.Sample())
		return err
	case "check":
		fs := newFlags("config check", stderr)
		cfgPath := fs.String("config", defaultConfig, "configuration file")
		if err := cliflag.Parse(fs, args[1:]); err != nil {
			return err
		}
		c, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		active, why := c.Active()
		fmt.Fprintf(stdout, "%s: valid\n", *cfgPath)
		if !active {
			fmt.Fprintf(stdout, "note: no active probing: %s\n", why)
		}
		return nil
	}
	return fmt.Errorf("unknown config subcommand %q (want sample or check)", args[0])
}

func cmdVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "camwarden", buildinfo.Version)
	return nil
}
