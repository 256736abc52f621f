//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/camwarden/camwarden/scripts/bench"
	"github.com/camwarden/camwarden/scripts/lab"
)

// ---- lab lifecycle ----------------------------------------------------------

var (
	extraMu sync.Mutex
	extraNS = map[string]bool{} // namespaces cwbench made outside the lab's state
)

func labOpts(cfg config) lab.Options {
	return lab.Options{Prefix: prefix, Camsim: filepath.Join(cfg.bin, "camsim"), ReadyTimeout: 60 * time.Second}
}

// upLab brings up a lab under prefix cwb, replacing any earlier one.
func upLab(ctx context.Context, cfg config, spec *lab.Spec) (*lab.Lab, error) {
	start := time.Now()
	l, err := lab.Up(ctx, spec, labOpts(cfg))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "cwbench: lab %s (%d devices) up in %s\n", spec.Name, len(l.Devices()), time.Since(start).Round(time.Millisecond))
	return l, nil
}

// cleanupAll removes the extra namespaces (stopping what runs in them) and
// the lab. Safe to call repeatedly and from a fresh process.
func cleanupAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	extraMu.Lock()
	names := make([]string, 0, len(extraNS))
	for n := range extraNS {
		names = append(names, n)
	}
	extraMu.Unlock()
	// Leftovers of a run killed hard: our own prefix only.
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if n := e.Name(); strings.HasPrefix(n, prefix+"-t") || n == prefix+"-silent" {
				names = append(names, n)
			}
		}
	}
	for _, n := range names {
		delNS(ctx, n)
	}
	if err := lab.Down(ctx, lab.Options{Prefix: prefix}); err != nil {
		fmt.Fprintln(os.Stderr, "cwbench: lab down:", err)
	}
}

// delNS kills every process in namespace ns (all started by us: nobody
// else uses our prefix) and deletes it.
func delNS(ctx context.Context, ns string) {
	if !lab.NamespaceExists(ns) {
		extraMu.Lock()
		delete(extraNS, ns)
		extraMu.Unlock()
		return
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "del", ns).CombinedOutput(); err != nil && lab.NamespaceExists(ns) {
		fmt.Fprintf(os.Stderr, "cwbench: ip netns del %s: %v: %s\n", ns, err, bytes.TrimSpace(out))
		return
	}
	extraMu.Lock()
	delete(extraNS, ns)
	extraMu.Unlock()
}

func ipRun(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// addHost plugs a fresh namespace "<prefix>-<name>" into the lab bridge,
// with IPv6 off so the kernel sends nothing on link-up: the first frame
// from its MAC is then whatever the process started in it sends.
func addHost(ctx context.Context, l *lab.Lab, name string, mac net.HardwareAddr, addr netip.Addr) (string, error) {
	ns := prefix + "-" + name
	veth := "v" + prefix + name
	if len(veth) > 15 {
		return "", fmt.Errorf("veth name %q too long", veth)
	}
	delNS(ctx, ns)
	extraMu.Lock()
	extraNS[ns] = true
	extraMu.Unlock()
	if err := ipRun(ctx, "netns", "add", ns); err != nil {
		return ns, err
	}
	if err := lab.DisableIPv6(ns); err != nil {
		return ns, fmt.Errorf("disable ipv6 in %s: %w", ns, err)
	}
	steps := [][]string{
		{"-n", l.BridgeNS(), "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", l.BridgeNS(), "link", "set", veth, "master", "br0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "set", "eth0", "address", mac.String()},
		{"-n", ns, "addr", "add", netip.PrefixFrom(addr, lab.CameraNet.Bits()).String(), "dev", "eth0"},
	}
	for _, s := range steps {
		if err := ipRun(ctx, s...); err != nil {
			return ns, err
		}
	}
	_ = lab.InNS(ns, func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", []byte("1\n"), 0o644)
	})
	for _, s := range [][]string{
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0"},
		{"-n", ns, "route", "add", "default", "via", lab.GatewayIP.String()},
	} {
		if err := ipRun(ctx, s...); err != nil {
			return ns, err
		}
	}
	return ns, nil
}

// ---- processes ---------------------------------------------------------------

// proc is a child started in a namespace (ip netns exec execs the program,
// so the PID is the program's).
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
	err  error         // Wait's result, valid after done
}

func startProc(cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM and, after grace, SIGKILL; it returns once the
// process is gone.
func (p *proc) stop(grace time.Duration) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func startCamsim(ctx context.Context, cfg config, ns, profile string, mac net.HardwareAddr, addr netip.Addr, log io.Writer) (*proc, error) {
	cmd := lab.NSCommand(ctx, ns, filepath.Join(cfg.bin, "camsim"), "run", "--profile", profile, "--iface", "eth0",
		"--ip", addr.String(), "--mac", mac.String())
	cmd.Stdout, cmd.Stderr = log, log
	return startProc(cmd)
}

// ---- the daemon ---------------------------------------------------------------

// logEvent is one daemon log record the reaction benchmark cares about,
// stamped when cwbench read it (same clock as the sniffer and the link
// watcher; slog writes each record with one write, so reading lags the
// daemon by a pipe hop only).
type logEvent struct {
	t   time.Time
	dev *bench.DeviceLine
	cut *bench.CutLine
}

type daemon struct {
	p      *proc
	stdin  io.WriteCloser
	events chan logEvent
	mu     sync.Mutex
	tail   []string
}

const daemonConfig = `appliance_id: cwbench
state_dir: %s
log_level: %s
interfaces: [{name: eth0, subnets: [198.18.1.0/24]}]
probing: {sweep_interval: 0s}
inventory: {gone_after: 3s}
policy: {actions: {hikvision: isolate}, hold_time: 1s, auto_restore: true}
board: {kind: console, lab_relay: {netns: %s, link: %s}}
`

// startDaemon runs camwarden run in the appliance namespace with a fresh
// state directory: Hikvision isolates, 1 s hold, restore without an
// acknowledgement, no periodic sweep (only the one at start).
func startDaemon(ctx context.Context, cfg config, l *lab.Lab, stateDir string) (*daemon, error) {
	if err := os.MkdirAll(stateDir, 0o750); err != nil {
		return nil, err
	}
	path := filepath.Join(stateDir, "camwarden.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(daemonConfig, stateDir, logLevel(), l.GatewayNS(), lab.UplinkLink)), 0o600); err != nil {
		return nil, err
	}
	cmd, err := l.Command(ctx, "app", filepath.Join(cfg.bin, "camwarden"), "run", "--config", path)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	// The console board reads the acknowledge button from stdin: a pipe
	// that stays open and never speaks means nobody presses it.
	d := &daemon{events: make(chan logEvent, 8192)}
	if d.stdin, err = cmd.StdinPipe(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	d.p, err = startProc(cmd)
	w.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), bench.MaxLogLine)
		for sc.Scan() {
			t := time.Now()
			line := sc.Text()
			d.mu.Lock()
			d.tail = append(d.tail, line)
			if len(d.tail) > 2000 {
				d.tail = d.tail[len(d.tail)-1000:]
			}
			d.mu.Unlock()
			var ev logEvent
			if dl, ok := bench.ParseDeviceLine(line); ok {
				ev = logEvent{t: t, dev: &dl}
			} else if cl, ok := bench.ParseCutLine(line); ok {
				ev = logEvent{t: t, cut: &cl}
			} else {
				continue
			}
			select {
			case d.events <- ev:
			default: // a trial that stopped listening; never block the daemon
			}
		}
	}()
	return d, nil
}

// logTail returns the daemon's last log lines; with words, only those
// mentioning one of them.
func (d *daemon) logTail(words ...string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, l := range d.tail {
		keep := len(words) == 0
		for _, w := range words {
			keep = keep || strings.Contains(l, w)
		}
		if keep {
			out = append(out, l)
		}
	}
	if len(out) > 40 {
		out = out[len(out)-40:]
	}
	return strings.Join(out, "\n")
}

// logLevel is the daemon's: info, so logging costs the timed path nothing
// much; CWBENCH_DEBUG=1 for probe details when a trial fails.
func logLevel() string {
	if os.Getenv("CWBENCH_DEBUG") != "" {
		return "debug"
	}
	return "info"
}

// drain discards queued events (from before a trial).
func (d *daemon) drain() {
	for {
		select {
		case <-d.events:
		default:
			return
		}
	}
}

// ---- watching the wire and the relay ------------------------------------------

// sniffer watches the lab bridge's own port (br0 in the switch namespace):
// every broadcast and multicast frame of the VLAN reaches it. It records,
// since the last forget, the first frame from each source MAC and the first
// query from each source MAC: an ARP request or a UDP datagram to a
// broadcast or multicast address (a sweep's request, a discovery probe).
type sniffer struct {
	conn  *packet.Conn
	mu    sync.Mutex
	mac   map[string]time.Time
	query map[string]time.Time
}

const maxSniffed = 4096

func startSniffer(l *lab.Lab) (*sniffer, error) {
	s := &sniffer{mac: map[string]time.Time{}, query: map[string]time.Time{}}
	err := lab.InNS(l.BridgeNS(), func() error {
		ifi, err := net.InterfaceByName("br0")
		if err != nil {
			return err
		}
		s.conn, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sniffer on %s br0: %w", l.BridgeNS(), err)
	}
	go s.loop()
	return s, nil
}

func (s *sniffer) loop() {
	buf := make([]byte, 2048)
	for {
		n, _, err := s.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		t := time.Now()
		if n < 14 {
			continue
		}
		f := buf[:n]
		src := net.HardwareAddr(f[6:12]).String()
		s.mu.Lock()
		if _, ok := s.mac[src]; !ok && len(s.mac) < maxSniffed {
			s.mac[src] = t
		}
		if isQuery(f) {
			if _, ok := s.query[src]; !ok && len(s.query) < maxSniffed {
				s.query[src] = t
			}
		}
		s.mu.Unlock()
	}
}

// isQuery: an ARP request (ethertype 0x0806, op 1), or IPv4 UDP (protocol
// 17) to a broadcast (Ethernet ff:ff:..) or multicast (01:00:5e:..)
// destination.
func isQuery(f []byte) bool {
	switch {
	case len(f) >= 42 && f[12] == 0x08 && f[13] == 0x06:
		return f[20] == 0 && f[21] == 1
	case len(f) >= 34 && f[12] == 0x08 && f[13] == 0x00:
		return f[23] == 17 && f[0]&1 == 1
	}
	return false
}

// forget clears what was recorded of these MACs (a trial's camera and the
// appliance), so the next frames are the first again.
func (s *sniffer) forget(macs ...net.HardwareAddr) {
	s.mu.Lock()
	for _, m := range macs {
		delete(s.mac, m.String())
		delete(s.query, m.String())
	}
	s.mu.Unlock()
}

func (s *sniffer) firstFrom(mac net.HardwareAddr) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.mac[mac.String()]
	return t, ok
}

func (s *sniffer) firstQuery(mac net.HardwareAddr) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.query[mac.String()]
	return t, ok
}

// applianceMAC is the hardware address of the appliance namespace's eth0.
func applianceMAC(l *lab.Lab) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := lab.InNS(l.AppNS(), func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appliance interface in %s: %w", l.AppNS(), err)
	}
	return mac, nil
}

func (s *sniffer) close() { s.conn.Close() }

// linkWatch timestamps every admin up/down change of the gateway's uplink,
// from netlink notifications in the gateway namespace: no polling.
type linkWatch struct {
	done   chan struct{}
	events chan linkEvent
}

type linkEvent struct {
	t  time.Time
	up bool
}

func watchUplink(l *lab.Lab) (*linkWatch, error) {
	h, err := netns.GetFromName(l.GatewayNS())
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", l.GatewayNS(), err)
	}
	defer h.Close()
	w := &linkWatch{done: make(chan struct{}), events: make(chan linkEvent, 1024)}
	ch := make(chan netlink.LinkUpdate, 256)
	if err := netlink.LinkSubscribeWithOptions(ch, w.done, netlink.LinkSubscribeOptions{Namespace: &h,
		ErrorCallback: func(err error) {
			select {
			case <-w.done: // closing the subscription ends its read with an error
			default:
				fmt.Fprintln(os.Stderr, "cwbench: uplink watch:", err)
			}
		}}); err != nil {
		return nil, fmt.Errorf("subscribe to links in %s: %w", l.GatewayNS(), err)
	}
	go func() {
		last := -1
		for u := range ch {
			t := time.Now()
			if u.Attrs() == nil || u.Attrs().Name != lab.UplinkLink {
				continue
			}
			up := 0
			if u.Attrs().Flags&net.FlagUp != 0 {
				up = 1
			}
			if up == last {
				continue
			}
			last = up
			select {
			case w.events <- linkEvent{t: t, up: up == 1}:
			default:
			}
		}
	}()
	return w, nil
}

func (w *linkWatch) close() { close(w.done) }

// drain discards queued link events.
func (w *linkWatch) drain() {
	for {
		select {
		case <-w.events:
		default:
			return
		}
	}
}

// ensureUp waits (bounded) for the uplink to be up, forcing it after
// within: it reports whether the daemon restored it by itself.
func ensureUp(ctx context.Context, l *lab.Lab, within time.Duration) (bool, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		up, err := l.Uplink(ctx)
		if err != nil {
			return false, err
		}
		if up {
			return true, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return false, l.SetUplink(ctx, true)
}
