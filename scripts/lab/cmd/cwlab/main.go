// Command cwlab brings the camera-VLAN lab up and down and pokes at it:
//
//	cwlab up     [--spec lab|lab50|FILE] [--camsim BIN | --no-camsim] [--snooping] [--prefix cw]
//	cwlab down   [--prefix cw]                 safe to run twice, and after a crash
//	cwlab status [--prefix cw]                 devices, namespaces, camsim PIDs, uplink
//	cwlab exec   [--prefix cw] HOST -- CMD...  run CMD in a host's namespace
//	cwlab ping   [--prefix cw] HOST ADDR       ICMP echo from a host (ADDR: IP or host name)
//
// HOST is a device name from the spec, or gw, core, app. Everything needs
// root except status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/camwarden/camwarden/scripts/lab"
)

const usage = `usage:
  cwlab up     [--spec lab|lab50|FILE] [--camsim BIN | --no-camsim] [--snooping] [--prefix cw] [--state-dir D]
  cwlab down   [--prefix cw] [--state-dir D]
  cwlab status [--prefix cw] [--state-dir D]
  cwlab exec   [--prefix cw] HOST -- CMD [ARGS...]
  cwlab ping   [--prefix cw] [--count N] HOST ADDR
HOST is a device name, gw, core or app; ADDR an address in 198.18.0.0/15 or a HOST.`

// exitError carries a process exit status without printing anything more.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

type usageError struct{ error }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var code exitError
	var uerr usageError
	switch {
	case err == nil:
	case errors.As(err, &code):
		os.Exit(int(code))
	case errors.As(err, &uerr):
		fmt.Fprintln(os.Stderr, "cwlab:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "cwlab:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New(strings.TrimSpace(usage))}
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("cwlab "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("prefix", lab.DefaultPrefix, "namespace prefix of the lab")
	stateDir := fs.String("state-dir", "", "state directory (default "+lab.StateRoot+"/PREFIX)")
	opts := func() lab.Options {
		return lab.Options{Prefix: *prefix, StateDir: *stateDir,
			Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	}
	switch cmd {
	case "up":
		specName := fs.String("spec", "lab", "spec file, or built-in lab / lab50")
		camsimBin := fs.String("camsim", "", "camsim binary (default: go build it)")
		noCamsim := fs.Bool("no-camsim", false, "bring up the network only, no emulated services")
		snooping := fs.Bool("snooping", false, "IGMP snooping with a querier on the camera bridge")
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		if err := needRoot("sudo make lab-up"); err != nil {
			return err
		}
		o := opts()
		o.Snooping = *snooping
		return up(ctx, o, *specName, *camsimBin, *noCamsim, stderr)
	case "down":
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		if err := needRoot("sudo make lab-down"); err != nil {
			return err
		}
		start := time.Now()
		if err := lab.Down(ctx, opts()); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "lab %s down (%s)\n", *prefix, time.Since(start).Round(time.Millisecond))
		return nil
	case "status":
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		return status(ctx, opts(), stdout)
	case "exec":
		if err := fs.Parse(args); err != nil {
			return usageError{err}
		}
		rest := fs.Args()
		if len(rest) < 2 {
			return usageError{errors.New("exec: want HOST -- CMD [ARGS...]")}
		}
		host, argv := rest[0], rest[1:]
		if argv[0] == "--" {
			argv = argv[1:]
		}
		if len(argv) == 0 {
			return usageError{errors.New("exec: no command after --")}
		}
		if err := needRoot("sudo cwlab exec ..."); err != nil {
			return err
		}
		return execIn(ctx, opts(), host, argv, stdin, stdout, stderr)
	case "ping":
		count := fs.Int("count", 3, "echo requests to send (1-20)")
		if err := parse(fs, args, 2); err != nil {
			return err
		}
		if *count < 1 || *count > 20 {
			return usageError{errors.New("ping: --count must be 1..20")}
		}
		if err := needRoot("sudo cwlab ping ..."); err != nil {
			return err
		}
		return ping(ctx, opts(), fs.Arg(0), fs.Arg(1), *count, stdout)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q\n%s", cmd, usage)}
}

func parse(fs *flag.FlagSet, args []string, nargs int) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != nargs {
		return usageError{fmt.Errorf("%s: want %d arguments, have %q\n%s", fs.Name(), nargs, fs.Args(), usage)}
	}
	return nil
}

// checkLab is lab.Check, replaceable in tests that need "not root".
var checkLab = lab.Check

func needRoot(hint string) error {
	if err := checkLab(); err != nil {
		if errors.Is(err, lab.ErrNotRoot) {
			return fmt.Errorf("needs root: %s", hint)
		}
		return err
	}
	return nil
}

func up(ctx context.Context, opts lab.Options, specName, camsimBin string, noCamsim bool, stderr io.Writer) error {
	spec, err := lab.LoadSpec(specName)
	if err != nil {
		return err
	}
	if !noCamsim {
		if camsimBin == "" {
			if camsimBin, err = buildCamsim(ctx, stderr); err != nil {
				return err
			}
		}
		opts.Camsim = camsimBin
	}
	if old, err := lab.Open(opts); err == nil {
		fmt.Fprintf(stderr, "lab %s is already up (%s, %d devices): replacing it\n", opts.Prefix, old.Spec(), len(old.Devices()))
	}
	p := newProgress(stderr, spec.Len())
	opts.Progress = p.update
	start := time.Now()
	fmt.Fprintf(stderr, "bringing up lab %s from %s: %d devices\n", opts.Prefix, spec.Source, spec.Len())
	l, err := lab.Up(ctx, spec, opts)
	p.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "lab %s up in %s: %d devices on %s, gateway %s, core %s, appliance namespace %s (%s)\n",
		opts.Prefix, time.Since(start).Round(time.Millisecond), len(l.Devices()), lab.CameraNet, lab.GatewayIP,
		lab.CoreIP, l.AppNS(), lab.ApplianceIP)
	fmt.Fprintf(stderr, "state in %s; `cwlab status`, `cwlab down` (or sudo make lab-down)\n", l.StateDir())
	return nil
}

// buildCamsim compiles the emulator into the user cache: /run, where the
// state lives, is often mounted noexec.
func buildCamsim(ctx context.Context, stderr io.Writer) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "camwarden-lab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("camsim build dir: %w", err)
	}
	bin := filepath.Join(dir, "camsim")
	fmt.Fprintf(stderr, "building camsim into %s\n", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/camwarden/camwarden/probes/camsim/cmd/camsim")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build camsim (run from the repository, or pass --camsim BIN): %w", err)
	}
	return bin, nil
}

// progress prints one rewritten line on a terminal, or a line per tenth
// otherwise, so 50 devices do not scroll 100 lines through a log.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	last  map[string]int
	dirty bool
}

func newProgress(w io.Writer, total int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, total: total, last: map[string]int{}}
}

func (p *progress) update(ev lab.Progress) {
	label := map[string]string{"network": "network", "hosts": "namespaces", "camsim": "emulators ready"}[ev.Stage]
	if label == "" {
		label = ev.Stage
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s %d/%d %s", label, ev.Done, ev.Total, ev.Device)
		p.dirty = true
		if ev.Done == ev.Total {
			fmt.Fprintln(p.w)
			p.dirty = false
		}
		return
	}
	step := max(ev.Total/10, 1)
	if ev.Done == ev.Total || ev.Done-p.last[ev.Stage] >= step {
		p.last[ev.Stage] = ev.Done
		fmt.Fprintf(p.w, "%s %d/%d\n", label, ev.Done, ev.Total)
	}
}

func (p *progress) finish() {
	if p.dirty {
		fmt.Fprintln(p.w)
	}
}

func status(ctx context.Context, opts lab.Options, w io.Writer) error {
	l, err := lab.Open(opts)
	if errors.Is(err, lab.ErrNoLab) {
		fmt.Fprintf(w, "lab %s is down\n", opts.Prefix)
		return nil
	}
	if err != nil {
		return err
	}
	uplink := "? (needs root)"
	if checkLab() == nil {
		if on, err := l.Uplink(ctx); err != nil {
			uplink = "missing"
		} else if on {
			uplink = "up (connected)"
		} else {
			uplink = "DOWN (cut)"
		}
	}
	fmt.Fprintf(w, "lab %s from %s, state %s\nuplink %s/%s: %s\n", l.Prefix(), l.Spec(), l.StateDir(), l.GatewayNS(), lab.UplinkLink, uplink)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tNAMESPACE\tNS\tIP\tMAC\tPROFILE\tMAKER\tBRAND\tFLAGGED\tPID\tALIVE")
	exists := func(ns string) string {
		if lab.NamespaceExists(ns) {
			return "ok"
		}
		return "MISSING"
	}
	for _, h := range []struct{ name, ns, ip string }{
		{"sw", l.BridgeNS(), "-"},
		{"gw", l.GatewayNS(), lab.GatewayIP.String() + "," + lab.UplinkIP.String()},
		{"core", l.CoreNS(), lab.CoreIP.String()},
		{"app", l.AppNS(), lab.ApplianceIP.String()},
	} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\n", h.name, h.ns, exists(h.ns), h.ip)
	}
	dead := 0
	for _, d := range l.Devices() {
		alive, pid := "-", "-"
		if d.PID > 0 {
			pid = fmt.Sprint(d.PID)
			alive = "yes"
			if !l.Alive(d) {
				alive = "NO"
				dead++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\n", d.Name, d.NS, exists(d.NS), d.IP, d.MAC,
			d.Profile, dash(d.Maker), dash(d.Brand), d.Flagged, pid, alive)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if dead > 0 {
		fmt.Fprintf(w, "%d emulators are not running: see the logs in %s\n", dead, l.StateDir())
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func execIn(ctx context.Context, opts lab.Options, host string, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	l, err := lab.Open(opts)
	if err != nil {
		return err
	}
	cmd, err := l.Command(ctx, host, argv[0], argv[1:]...)
	if err != nil {
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			return exitError(ee.ExitCode())
		}
		return fmt.Errorf("exec in %s: %w", host, err)
	}
	return nil
}

func ping(ctx context.Context, opts lab.Options, host, target string, count int, w io.Writer) error {
	l, err := lab.Open(opts)
	if err != nil {
		return err
	}
	dst, err := netip.ParseAddr(target)
	if err != nil {
		_, a, rerr := l.Resolve(target)
		if rerr != nil || !a.IsValid() {
			return usageError{fmt.Errorf("ping: %q is neither an address nor a lab host with one", target)}
		}
		dst = a
	}
	ok := 0
	for i := range count {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		rtt, err := l.Ping(ctx, host, dst, time.Second)
		if err != nil {
			fmt.Fprintf(w, "%s -> %s: %v\n", host, dst, strings.TrimPrefix(err.Error(), "lab: "))
			continue
		}
		ok++
		fmt.Fprintf(w, "%s -> %s: reply in %s\n", host, dst, rtt.Round(time.Microsecond))
	}
	fmt.Fprintf(w, "%d/%d replies: %s\n", ok, count, map[bool]string{true: "reachable", false: "UNREACHABLE"}[ok > 0])
	if ok == 0 {
		return exitError(1)
	}
	return nil
}
