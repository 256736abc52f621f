package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"
)

// ErrNotRoot is returned when the lab is asked for on a machine where we are
// not root: namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN.
var ErrNotRoot = errors.New("lab: network namespaces need root (run with sudo)")

// benchmarking range: the only addresses a lab may use.
var labRange = netip.MustParsePrefix("198.18.0.0/15")

// Net is a bridge in its own namespace with hosts attached.
type Net struct {
	Prefix   string // every namespace and link name starts with it
	BridgeNS string

	mu     sync.Mutex
	hosts  []*Host
	extra  []string // other namespaces to delete on Close
	closed bool
}

// Host is one namespace with an eth0 plugged into the bridge.
type Host struct {
	Name  string // short name within the lab
	NS    string // namespace name
	Iface string // interface name inside NS
	MAC   net.HardwareAddr
	Addr  netip.Prefix
	Veth  string // bridge-side veth name inside BridgeNS
}

// ip runs one ip(8) command and returns its error with stderr.
func ip(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// ipBatch runs ip(8) commands inside namespace ns in one process. ip stops
// at the first failing line and names it.
func ipBatch(ctx context.Context, ns string, lines ...[]string) error {
	var in strings.Builder
	for _, l := range lines {
		in.WriteString(strings.Join(l, " "))
		in.WriteByte('\n')
	}
	cmd := exec.CommandContext(ctx, "ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(in.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip -n %s -batch: %w: %s", ns, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Check reports whether labs can be built here.
func Check() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("lab: ip(8) not found (apt-get install iproute2): %w", err)
	}
	return nil
}

// NewNet creates the bridge namespace "<prefix>-sw" with bridge br0,
// multicast snooping off and LLDP forwarding on. prefix must be short
// (interface names are limited to 15 bytes).
func NewNet(ctx context.Context, prefix string) (*Net, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if len(prefix) == 0 || len(prefix) > 8 {
		return nil, fmt.Errorf("lab: prefix %q must be 1-8 characters", prefix)
	}
	n := &Net{Prefix: prefix, BridgeNS: prefix + "-sw"}
	// A previous run killed hard may have left the namespace behind.
	_ = ip(ctx, "netns", "del", n.BridgeNS)
	if err := ip(ctx, "netns", "add", n.BridgeNS); err != nil {
		return nil, err
	}
	// The switch is infrastructure, not a device: without this, br0 and
	// every veth port get an IPv6 link-local address and announce it (DAD,
	// router and MLD solicitations), and the appliance rightly lists them
	// as IP-less devices with locally administered MACs. Set before any
	// link exists so they all inherit it.
	if err := DisableIPv6(n.BridgeNS); err != nil {
		n.Close()
		return nil, fmt.Errorf("lab: switch namespace: %w", err)
	}
	steps := [][]string{
		{"-n", n.BridgeNS, "link", "set", "lo", "up"},
		{"-n", n.BridgeNS, "link", "add", "br0", "type", "bridge"},
		{"-n", n.BridgeNS, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0", "group_fwd_mask", "0x4000"},
		{"-n", n.BridgeNS, "link", "set", "br0", "up"},
	}
	for _, s := range steps {
		if err := ip(ctx, s...); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// DisableIPv6 turns IPv6 off in namespace ns, for links that exist and
// links created later.
func DisableIPv6(ns string) error {
	return InNS(ns, func() error {
		for _, f := range []string{"all", "default"} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+f+"/disable_ipv6", []byte("1\n"), 0o644); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // a kernel without IPv6 has nothing to announce
				}
				return err
			}
		}
		return nil
	})
}

// SetSnooping turns IGMP snooping with a querier on or off on the bridge.
func (n *Net) SetSnooping(ctx context.Context, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	// A 2 s query interval (the kernel default is 125 s) lets the bridge
	// relearn a membership whose unsolicited IGMP report was lost, so tests
	// and benchmarks converge in seconds; intervals are in centiseconds.
	// The startup queries are 1 s apart too: by default they inherit a
	// quarter of the 125 s interval, so the first query after the one sent
	// before any host was attached came 31 s later, and a lost report was
	// not repaired within a test. IGMPv3 queries, as current switches send,
	// keep hosts out of IGMPv2 compatibility mode. With IGMPv2 queries
	// the bridge, under load, often never listed a capture's join of a
	// group another host had also joined (seen as a CI failure of
	// probes/capture TestIGMPSnoopingNeedsJoin; 0 failures in 18 loaded
	// runs with these settings).
	return ip(ctx, "-n", n.BridgeNS, "link", "set", "br0", "type", "bridge", "mcast_snooping", v, "mcast_querier", v,
		"mcast_query_interval", "200", "mcast_query_response_interval", "100", "mcast_igmp_version", "3",
		"mcast_startup_query_interval", "100")
}

// AddHost creates namespace "<prefix>-<name>" with eth0 (MAC mac, address
// addr) on the bridge, loopback up and a multicast route, without which sends
// to 239.255.255.250 fail with ENODEV.
func (n *Net) AddHost(ctx context.Context, name string, mac net.HardwareAddr, addr netip.Prefix) (*Host, error) {
	if !labRange.Contains(addr.Addr()) {
		return nil, fmt.Errorf("lab: host %s address %s is outside %s", name, addr, labRange)
	}
	h := &Host{
		Name:  name,
		NS:    n.Prefix + "-" + name,
		Iface: "eth0",
		MAC:   mac,
		Addr:  addr,
	}
	// The index and the append share one critical section so hosts can be
	// added concurrently (the 50-device lab does) without veth name clashes.
	n.mu.Lock()
	h.Veth = fmt.Sprintf("v%s%d", n.Prefix, len(n.hosts)+1)
	if len(h.Veth) > 15 {
		n.mu.Unlock()
		return nil, fmt.Errorf("lab: veth name %q too long; use a shorter prefix", h.Veth)
	}
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()
	if NamespaceExists(h.NS) { // left by a run killed hard
		_ = ip(ctx, "netns", "del", h.NS)
	}
	// The veth pair is created inside the bridge namespace, never in the
	// machine's own, so a crash cannot leave a stray link on the host.
	// Two batches instead of one ip(8) per step: spawning ip dominates the
	// time to build a 50-device lab.
	if err := ip(ctx, "netns", "add", h.NS); err != nil {
		return nil, fmt.Errorf("lab: add host %s: %w", name, err)
	}
	if err := ipBatch(ctx, n.BridgeNS,
		[]string{"link", "add", h.Veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		[]string{"link", "set", h.Veth, "master", "br0", "up"},
	); err != nil {
		return nil, fmt.Errorf("lab: add host %s: %w", name, err)
	}
	if err := ipBatch(ctx, h.NS,
		[]string{"link", "set", "lo", "up"},
		[]string{"link", "set", "eth0", "address", mac.String()},
		[]string{"addr", "add", addr.String(), "dev", "eth0"},
		[]string{"link", "set", "eth0", "up"},
		[]string{"route", "add", "224.0.0.0/4", "dev", "eth0"},
	); err != nil {
		return nil, fmt.Errorf("lab: add host %s: %w", name, err)
	}
	return h, nil
}

// AddNamespace records an extra namespace (created by the caller) for Close
// to delete.
func (n *Net) AddNamespace(ns string) {
	n.mu.Lock()
	n.extra = append(n.extra, ns)
	n.mu.Unlock()
}

// Hosts returns the hosts added so far.
func (n *Net) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// Close deletes every namespace of the lab (which removes their veths). It
// is safe to call more than once.
func (n *Net) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, h := range n.hosts {
		if err := ip(ctx, "netns", "del", h.NS); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	for _, ns := range n.extra {
		if err := ip(ctx, "netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	if err := ip(ctx, "netns", "del", n.BridgeNS); err != nil && !strings.Contains(err.Error(), "No such file") {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Command returns a command that runs inside the host's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return NSCommand(ctx, h.NS, name, args...)
}

// NSCommand returns a command that runs inside namespace ns.
func NSCommand(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Do runs fn on an OS thread switched into the host's namespace. Sockets fn
// opens belong to that namespace and may be used from any goroutine after.
// Goroutines fn starts do NOT run in the namespace.
func (h *Host) Do(fn func() error) error { return InNS(h.NS, fn) }

// InNS runs fn on an OS thread switched into namespace ns.
func InNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: if switching back failed it must die
		// with the goroutine rather than serve others in the wrong namespace.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("lab: current netns: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			errc <- fmt.Errorf("lab: netns %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("lab: enter netns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("lab: leave netns %s: %w", ns, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Interface returns the host's eth0 as seen inside its namespace.
func (h *Host) Interface() (*net.Interface, error) {
	var ifi *net.Interface
	err := h.Do(func() error {
		var err error
		ifi, err = net.InterfaceByName(h.Iface)
		return err
	})
	return ifi, err
}
