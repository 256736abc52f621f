// Command camsim runs one emulated device (a camsim profile) on one host:
// every responder the profile names, bound to the host's interface and
// address. The lab starts one camsim per device namespace; it can also run on
// loopback with --port-offset for tests without root.
//
//	camsim run --profile NAME --iface eth0 [--ip A] [--mac M] [--pidfile F] [--profiles FILE]
//	camsim list
//
// It never goes looking for an interface: it serves only on the one named.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
	"github.com/camwarden/camwarden/probes/camsim"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintln(os.Stderr, "camsim:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "camsim:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

const usage = `usage:
  camsim run --profile NAME --iface IFACE [--ip A] [--mac M] [--pidfile F] [--port-offset N] [--profiles FILE]
  camsim list`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New(usage)}
	}
	switch args[0] {
	case "list":
		return list(stdout)
	case "run":
		return runDevice(args[1:], stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q\n%s", args[0], usage)}
}

func list(w io.Writer) error {
	ps, err := camsim.Profiles()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tMAKER\tBRAND\tFLAGGED\tSERVICES")
	for _, p := range ps {
		maker := p.Maker
		if maker == "" {
			maker = "-"
		}
		brand := p.Brand
		if brand == "" {
			brand = "-"
		}
		svcs := strings.Join(p.Services(), ",")
		if svcs == "" {
			svcs = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", p.Name, maker, brand, p.Flagged, svcs)
	}
	return tw.Flush()
}

func runDevice(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("camsim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", "", "profile name (see camsim list)")
	profilesFile := fs.String("profiles", "", "look the profile up in this profiles file (the shape of profiles.yaml) instead of the built-in ones")
	iface := fs.String("iface", "", "interface to serve on, e.g. eth0")
	ipFlag := fs.String("ip", "", "IPv4 address to serve on (default: the interface's first IPv4 address)")
	macFlag := fs.String("mac", "", "MAC the device claims (default: the interface's MAC)")
	pidfile := fs.String("pidfile", "", "write our PID here once the services are up; removed on exit")
	offset := fs.Int("port-offset", 0, "add this to every listening port (loopback tests)")
	settle := fs.Duration("ready-after", 300*time.Millisecond, "how long every service must run without failing before we count as ready")
	debug := fs.Bool("debug", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if *profile == "" || *iface == "" {
		return usageError{errors.New("--profile and --iface are required")}
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("profile", *profile)

	var p camsim.Profile
	var err error
	if *profilesFile != "" {
		var ps []camsim.Profile
		if ps, err = camsim.LoadProfiles(*profilesFile); err == nil {
			p, err = camsim.Find(ps, *profile)
		}
	} else {
		p, err = camsim.Lookup(*profile)
	}
	if err != nil {
		return err
	}
	host, err := hostFor(*iface, *ipFlag, *macFlag)
	if err != nil {
		return err
	}
	host.PortOffset = *offset

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve(ctx, p, host, *pidfile, *settle, log)
}

// serve runs the profile until ctx ends. The pidfile is the readiness signal
// the lab waits for: services return promptly when they cannot listen, so
// once all have run for settle without failing they are listening.
func serve(ctx context.Context, p camsim.Profile, h camsim.Host, pidfile string, settle time.Duration, log *slog.Logger) error {
	log.Info("starting", "iface", h.Iface, "ip", h.IP, "mac", h.MAC.String(), "services", p.Services())
	done := make(chan error, 1)
	go func() { done <- camsim.Run(ctx, p, h, log) }()

	select {
	case err := <-done:
		if err != nil || ctx.Err() != nil {
			return err
		}
		// Nothing failed and nothing is running (a profile with no
		// registered responder): the host still exists on the network
		// (ARP, ping), so it stays up until told to stop.
		done = nil
	case <-time.After(settle):
	case <-ctx.Done():
		return <-done
	}
	if pidfile != "" {
		if err := atomicfile.WriteFile(pidfile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("write pidfile: %w", err)
		}
		defer os.Remove(pidfile)
	}
	log.Info("ready", "pid", os.Getpid())
	select {
	case err := <-done: // nil channel when nothing runs: never fires
		if err != nil {
			return err
		}
		<-ctx.Done()
	case <-ctx.Done():
		log.Info("stopping")
		if done != nil {
			return <-done
		}
	}
	return nil
}

// hostFor fills in what the lab did not pass from the interface itself.
func hostFor(iface, ipStr, macStr string) (camsim.Host, error) {
	h := camsim.Host{Iface: iface}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return h, fmt.Errorf("interface %s: %w", iface, err)
	}
	if macStr != "" {
		if h.MAC, err = net.ParseMAC(macStr); err != nil {
			return h, fmt.Errorf("--mac: %w", err)
		}
	} else {
		h.MAC = ifi.HardwareAddr
	}
	if ipStr != "" {
		if h.IP, err = netip.ParseAddr(ipStr); err != nil || !h.IP.Is4() {
			return h, fmt.Errorf("--ip: %q is not an IPv4 address", ipStr)
		}
		return h, nil
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return h, fmt.Errorf("interface %s addresses: %w", iface, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
				h.IP = ip.Unmap()
				return h, nil
			}
		}
	}
	return h, fmt.Errorf("interface %s has no IPv4 address (pass --ip)", iface)
}
