package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Locally administered MACs for the lab's own hosts (02:c4:7e = "camwarden").
// The gateway is the one the appliance sees on the camera network.
var (
	GatewayMAC   = net.HardwareAddr{0x02, 0xc4, 0x7e, 0x01, 0x00, 0x01}
	applianceMAC = net.HardwareAddr{0x02, 0xc4, 0x7e, 0x01, 0x00, 0x02}
	coreMAC      = net.HardwareAddr{0x02, 0xc4, 0x7e, 0x02, 0x00, 0x0a}
)

// Up builds the lab spec describes and, when opts.Camsim is set, starts one
// camsim per device and waits until each is ready:
//
//	<prefix>-sw    bridge br0: the camera switch
//	<prefix>-gw    eth0 198.18.1.1/24 on the bridge; uplink 198.18.2.1/24; forwarding on
//	<prefix>-core  eth0 198.18.2.10/24, the core network, reachable only via the uplink
//	<prefix>-app   eth0 198.18.1.2/24 on the bridge: where the appliance runs
//	<prefix>-<dev> eth0 198.18.1.10.../24, MAC from the profile's OUI, default via the gateway
//
// A lab left behind under the same prefix is removed first. On error
// everything Up created is removed again.
func Up(ctx context.Context, spec *Spec, opts Options) (_ *Lab, err error) {
	opts = opts.withDefaults()
	if err := Check(); err != nil {
		return nil, err
	}
	if spec == nil {
		return nil, errors.New("lab: up: nil spec")
	}
	if spec.devices == nil {
		if err := spec.Validate(); err != nil {
			return nil, err
		}
	}
	if opts.Camsim != "" {
		abs, err := filepath.Abs(opts.Camsim)
		if err != nil {
			return nil, fmt.Errorf("lab: camsim path: %w", err)
		}
		if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("lab: camsim binary %s is not an executable file (go build ./probes/camsim/cmd/camsim)", abs)
		}
		opts.Camsim = abs
	}
	if err := Down(ctx, opts); err != nil {
		return nil, fmt.Errorf("lab: up: removing the previous lab %s: %w", opts.Prefix, err)
	}
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: state dir: %w", err)
	}

	sw, gw, core, app := fixedNamespaces(opts.Prefix)
	l := &Lab{opts: opts, procs: map[int]chan struct{}{}}
	l.st = state{
		Version: stateVersion, Prefix: opts.Prefix, Spec: spec.Source, Created: time.Now().UTC(),
		Bridge: sw, Gateway: gw, Core: core, App: app,
		Namespaces: []string{sw, gw, core, app},
	}
	for _, d := range spec.Plan() {
		d.NS = opts.Prefix + "-" + d.Name
		if opts.Camsim != "" {
			d.Pidfile = filepath.Join(opts.StateDir, d.Name+".pid")
			d.Logfile = filepath.Join(opts.StateDir, d.Name+".log")
		}
		l.st.Devices = append(l.st.Devices, d)
		l.st.Namespaces = append(l.st.Namespaces, d.NS)
	}
	// Recorded before anything exists, so a crash at any later point
	// leaves a state file naming everything to remove.
	if err := l.writeState(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if derr := l.Down(cctx); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}()

	var pmu sync.Mutex
	progress := func(stage string, done, total int, dev string) {
		if opts.Progress != nil {
			pmu.Lock()
			opts.Progress(Progress{Stage: stage, Done: done, Total: total, Device: dev})
			pmu.Unlock()
		}
	}

	if err := l.buildNetwork(ctx); err != nil {
		return nil, err
	}
	progress("network", 1, 1, "")
	if err := l.buildHosts(ctx, progress); err != nil {
		return nil, err
	}
	if opts.Camsim != "" {
		profiles := ""
		if data, err := spec.profilesFile(); err != nil {
			return nil, err
		} else if data != nil {
			profiles = filepath.Join(opts.StateDir, "profiles.yaml")
			if err := writeFileAtomic(profiles, data, 0o644); err != nil {
				return nil, fmt.Errorf("lab: profiles file: %w", err)
			}
		}
		if err := l.startEmulators(ctx, progress, profiles); err != nil {
			return nil, err
		}
	}
	opts.Log.Info("lab up", "prefix", opts.Prefix, "devices", len(l.st.Devices), "state", l.statePath())
	return l, nil
}

// buildNetwork creates the bridge, gateway, appliance and core namespaces.
func (l *Lab) buildNetwork(ctx context.Context) error {
	n, err := NewNet(ctx, l.opts.Prefix)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.net = n
	l.mu.Unlock()
	if l.opts.Snooping {
		if err := n.SetSnooping(ctx, true); err != nil {
			return fmt.Errorf("lab: network: %w", err)
		}
	}
	if _, err := n.AddHost(ctx, "gw", GatewayMAC, netip.PrefixFrom(GatewayIP, CameraNet.Bits())); err != nil {
		return err
	}
	if _, err := n.AddHost(ctx, "app", applianceMAC, netip.PrefixFrom(ApplianceIP, CameraNet.Bits())); err != nil {
		return err
	}
	gw, core := l.st.Gateway, l.st.Core
	_ = ip(ctx, "netns", "del", core)
	n.AddNamespace(core)
	steps := [][]string{
		{"-n", l.st.App, "route", "add", "default", "via", GatewayIP.String()},
		{"netns", "add", core},
		// Created inside the gateway namespace: the machine's own namespace
		// never sees a lab link.
		{"-n", gw, "link", "add", UplinkLink, "type", "veth", "peer", "name", "eth0", "netns", core},
		{"-n", gw, "addr", "add", netip.PrefixFrom(UplinkIP, CoreNet.Bits()).String(), "dev", UplinkLink},
		{"-n", gw, "link", "set", UplinkLink, "up"},
		{"-n", core, "link", "set", "lo", "up"},
		{"-n", core, "link", "set", "eth0", "address", coreMAC.String()},
		{"-n", core, "addr", "add", netip.PrefixFrom(CoreIP, CoreNet.Bits()).String(), "dev", "eth0"},
		{"-n", core, "link", "set", "eth0", "up"},
		{"-n", core, "route", "add", "default", "via", UplinkIP.String()},
	}
	for _, s := range steps {
		if err := ip(ctx, s...); err != nil {
			return fmt.Errorf("lab: network: %w", err)
		}
	}
	// /proc/sys/net is per namespace, resolved by the thread that opens it.
	if err := InNS(gw, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	}); err != nil {
		return fmt.Errorf("lab: gateway forwarding: %w", err)
	}
	return nil
}

// buildHosts creates one namespace per device, a few at a time.
func (l *Lab) buildHosts(ctx context.Context, progress func(string, int, int, string)) error {
	devs := l.Devices()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.opts.Parallel)
	var mu sync.Mutex
	done := 0
	for _, d := range devs {
		g.Go(func() error {
			name := strings.TrimPrefix(d.NS, l.opts.Prefix+"-")
			if _, err := l.net.AddHost(gctx, name, d.MAC, netip.PrefixFrom(d.IP, CameraNet.Bits())); err != nil {
				return err
			}
			if err := ip(gctx, "-n", d.NS, "route", "add", "default", "via", GatewayIP.String()); err != nil {
				return fmt.Errorf("lab: host %s: %w", d.Name, err)
			}
			mu.Lock()
			done++
			k := done
			mu.Unlock()
			progress("hosts", k, len(devs), d.Name)
			return nil
		})
	}
	return g.Wait()
}

// startEmulators starts one camsim per device and waits for each pidfile,
// which camsim writes only once its services are listening. profiles, when
// set, is the profiles file every camsim looks its profile up in.
func (l *Lab) startEmulators(ctx context.Context, progress func(string, int, int, string), profiles string) error {
	devs := l.Devices()
	exited := make([]chan struct{}, len(devs))
	for i, d := range devs {
		_ = os.Remove(d.Pidfile)
		args := []string{"run", "--profile", d.Profile, "--iface", "eth0",
			"--ip", d.IP.String(), "--mac", d.MAC.String(), "--pidfile", d.Pidfile}
		if profiles != "" {
			args = append(args, "--profiles", profiles)
		}
		pid, start, ch, err := startInNS(d.NS, l.opts.Camsim, args, d.Logfile)
		if err != nil {
			// Record what did start before giving up, so Down stops it.
			_ = l.writeState()
			return fmt.Errorf("lab: device %s: start camsim: %w", d.Name, err)
		}
		exited[i] = ch
		l.mu.Lock()
		l.st.Devices[i].PID, l.st.Devices[i].StartTime = pid, start
		l.procs[pid] = ch
		l.mu.Unlock()
	}
	if err := l.writeState(); err != nil {
		return err
	}
	devs = l.Devices()
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	done := 0
	for i, d := range devs {
		g.Go(func() error {
			if err := waitReady(gctx, d, exited[i], l.opts.ReadyTimeout); err != nil {
				return err
			}
			mu.Lock()
			done++
			k := done
			mu.Unlock()
			progress("camsim", k, len(devs), d.Name)
			return nil
		})
	}
	return g.Wait()
}

// waitReady polls for the device's pidfile holding its PID.
func waitReady(ctx context.Context, d Device, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	want := strconv.Itoa(d.PID)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(d.Pidfile); err == nil && strings.TrimSpace(string(b)) == want {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("lab: device %s: camsim exited before it was ready; %s", d.Name, logTail(d.Logfile))
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("lab: device %s: camsim not ready after %s; %s", d.Name, timeout, logTail(d.Logfile))
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// logTail returns the last lines of a camsim log for an error message.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "no log: " + err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return fmt.Sprintf("log %s:\n  %s", path, strings.Join(lines, "\n  "))
}
