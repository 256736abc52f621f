package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
)

// DefaultPrefix names the demo lab's namespaces: cw-sw, cw-gw, cw-core,
// cw-app, cw-<device>.
const DefaultPrefix = "cw"

// StateRoot holds one directory per lab prefix with its state file, camsim
// pidfiles and logs. /run is cleared at boot, as are the namespaces.
const StateRoot = "/run/camwarden-lab"

// UplinkLink is the gateway's interface towards the core network. Setting it
// down (ip -n <prefix>-gw link set uplink down) is what the lab relay does.
const UplinkLink = "uplink"

// ErrNoLab is returned by Open when no state file exists for the prefix.
var ErrNoLab = errors.New("lab: no lab state (not up?)")

// Options configure Up, Open and Down.
type Options struct {
	Prefix string // namespace prefix, 1-8 characters; default "cw"
	// Camsim is the path of a built camsim binary (probes/camsim/cmd/camsim).
	// Empty brings the network up without emulators.
	Camsim   string
	StateDir string // default /run/camwarden-lab/<prefix>
	// ReadyTimeout bounds how long Up waits for each camsim to write its
	// pidfile (it does so once its services listen). Default 20s.
	ReadyTimeout time.Duration
	// Grace is how long Down waits after SIGTERM before SIGKILL. Default 3s.
	Grace time.Duration
	// Snooping turns on IGMP snooping with a querier on the bridge, as
	// managed camera switches do: then only hosts that joined a group see
	// its traffic.
	Snooping bool
	// Parallel bounds concurrent namespace setups. Default 8.
	Parallel int
	Log      *slog.Logger
	// Progress, when set, is called as the lab comes up (from several
	// goroutines, one call at a time).
	Progress func(Progress)
}

// Progress reports one step of Up.
type Progress struct {
	Stage  string // "network", "hosts", "camsim"
	Done   int
	Total  int
	Device string // the device this step finished, if any
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(StateRoot, o.Prefix)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 20 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = 3 * time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Device is one emulated device of the lab and the ground truth for it: what
// the appliance should conclude (Maker, Brand, Flagged) and where it lives.
type Device struct {
	Name    string // unique within the lab, e.g. "hikvision" or "dahua-3"
	Profile string // camsim profile
	NS      string // network namespace
	MAC     net.HardwareAddr
	IP      netip.Addr
	Maker   string // canonical maker id, "" when none can be named
	Brand   string // label on the box when it differs from the maker
	Flagged bool   // expected under the default policy
	Model   string
	Serial  string
	// PID is the camsim process (0 when the lab runs without emulators);
	// StartTime (clock ticks since boot, /proc/PID/stat field 22) tells it
	// apart from a later process that reuses the PID.
	PID       int
	StartTime uint64
	Pidfile   string
	Logfile   string
}

// deviceJSON is Device as the state file stores it.
type deviceJSON struct {
	Name      string `json:"name"`
	Profile   string `json:"profile"`
	NS        string `json:"ns"`
	MAC       string `json:"mac"`
	IP        string `json:"ip"`
	Maker     string `json:"maker"`
	Brand     string `json:"brand,omitempty"`
	Flagged   bool   `json:"flagged"`
	Model     string `json:"model,omitempty"`
	Serial    string `json:"serial,omitempty"`
	PID       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"`
	Pidfile   string `json:"pidfile,omitempty"`
	Logfile   string `json:"logfile,omitempty"`
}

// MarshalJSON writes the MAC and IP as text.
func (d Device) MarshalJSON() ([]byte, error) {
	ip := ""
	if d.IP.IsValid() {
		ip = d.IP.String()
	}
	return json.Marshal(deviceJSON{d.Name, d.Profile, d.NS, d.MAC.String(), ip, d.Maker, d.Brand, d.Flagged,
		d.Model, d.Serial, d.PID, d.StartTime, d.Pidfile, d.Logfile})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (d *Device) UnmarshalJSON(b []byte) error {
	var j deviceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	mac, err := net.ParseMAC(j.MAC)
	if err != nil {
		return fmt.Errorf("device %s: mac: %w", j.Name, err)
	}
	ip, err := netip.ParseAddr(j.IP)
	if err != nil {
		return fmt.Errorf("device %s: ip: %w", j.Name, err)
	}
	*d = Device{j.Name, j.Profile, j.NS, mac, ip, j.Maker, j.Brand, j.Flagged, j.Model, j.Serial,
		j.PID, j.StartTime, j.Pidfile, j.Logfile}
	return nil
}

// state is what a later process needs to find and remove the lab.
type state struct {
	Version int       `json:"version"`
	Prefix  string    `json:"prefix"`
	Spec    string    `json:"spec"`
	Created time.Time `json:"created"`
	Bridge  string    `json:"bridge_ns"`
	Gateway string    `json:"gateway_ns"`
	Core    string    `json:"core_ns"`
	App     string    `json:"app_ns"`
	// Namespaces lists every namespace Up may have created, written before
	// it creates any, so Down after a crash half-way still finds them all.
	Namespaces []string `json:"namespaces"`
	Devices    []Device `json:"devices"`
}

const stateVersion = 1

// Lab is a running lab. Its methods are safe for concurrent use.
type Lab struct {
	opts Options

	mu    sync.Mutex
	st    state
	procs map[int]chan struct{} // camsim children of this process: closed on exit
	net   *Net                  // set while Up builds; nil in a Lab from Open
}

func fixedNamespaces(prefix string) (sw, gw, core, app string) {
	return prefix + "-sw", prefix + "-gw", prefix + "-core", prefix + "-app"
}

func (l *Lab) statePath() string { return filepath.Join(l.opts.StateDir, "state.json") }

// writeState replaces the state file atomically.
func (l *Lab) writeState() error {
	l.mu.Lock()
	b, err := json.MarshalIndent(l.st, "", "  ")
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("lab: encode state: %w", err)
	}
	if err := writeFileAtomic(l.statePath(), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: write state: %w", err)
	}
	return nil
}

// Open loads the lab recorded under opts.StateDir (or the prefix's default
// directory) so a fresh process can inspect or remove it.
func Open(opts Options) (*Lab, error) {
	opts = opts.withDefaults()
	l := &Lab{opts: opts, procs: map[int]chan struct{}{}}
	b, err := os.ReadFile(l.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoLab, l.statePath())
	}
	if err != nil {
		return nil, fmt.Errorf("lab: read state: %w", err)
	}
	if err := json.Unmarshal(b, &l.st); err != nil {
		return nil, fmt.Errorf("lab: state %s: %w", l.statePath(), err)
	}
	if l.st.Version != stateVersion || l.st.Prefix != opts.Prefix {
		return nil, fmt.Errorf("lab: state %s: version %d prefix %q, want version %d prefix %q",
			l.statePath(), l.st.Version, l.st.Prefix, stateVersion, opts.Prefix)
	}
	return l, nil
}

// Prefix returns the lab's namespace prefix.
func (l *Lab) Prefix() string { return l.opts.Prefix }

// StateDir returns the directory holding the state file, pidfiles and logs.
func (l *Lab) StateDir() string { return l.opts.StateDir }

// Spec returns where the lab's spec came from.
func (l *Lab) Spec() string { return l.st.Spec }

// BridgeNS, GatewayNS, CoreNS and AppNS name the lab's own namespaces.
func (l *Lab) BridgeNS() string  { return l.st.Bridge }
func (l *Lab) GatewayNS() string { return l.st.Gateway }
func (l *Lab) CoreNS() string    { return l.st.Core }
func (l *Lab) AppNS() string     { return l.st.App }

// Devices returns the emulated devices with their expected verdicts, in
// spec order.
func (l *Lab) Devices() []Device {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.st.Devices)
}

// Device returns the named device.
func (l *Lab) Device(name string) (Device, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.st.Devices {
		if d.Name == name {
			return d, true
		}
	}
	return Device{}, false
}

// Namespaces returns every namespace of the lab.
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.st.Namespaces)
}

// Resolve maps a host name of the lab ("gw", "core", "app", "sw" or a
// device name) to its namespace and address (the bridge has none).
func (l *Lab) Resolve(name string) (ns string, addr netip.Addr, err error) {
	switch name {
	case "gw", "gateway":
		return l.st.Gateway, GatewayIP, nil
	case "core":
		return l.st.Core, CoreIP, nil
	case "app", "appliance":
		return l.st.App, ApplianceIP, nil
	case "sw", "switch":
		return l.st.Bridge, netip.Addr{}, nil
	}
	if d, ok := l.Device(name); ok {
		return d.NS, d.IP, nil
	}
	return "", netip.Addr{}, fmt.Errorf("lab: no host %q in lab %s (gw, core, app or a device name)", name, l.opts.Prefix)
}

// Command returns a command that runs in the named host's namespace.
func (l *Lab) Command(ctx context.Context, host, name string, args ...string) (*exec.Cmd, error) {
	ns, _, err := l.Resolve(host)
	if err != nil {
		return nil, err
	}
	return NSCommand(ctx, ns, name, args...), nil
}

// SetUplink sets the gateway's uplink up or down: down cuts every camera
// (and the appliance) off from the core network, as the lab relay does.
func (l *Lab) SetUplink(ctx context.Context, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ip(ctx, "-n", l.st.Gateway, "link", "set", UplinkLink, state)
}

// Uplink reports whether the gateway's uplink is administratively up.
func (l *Lab) Uplink(ctx context.Context) (bool, error) {
	out, err := exec.CommandContext(ctx, "ip", "-n", l.st.Gateway, "-o", "link", "show", UplinkLink).Output()
	if err != nil {
		return false, fmt.Errorf("lab: uplink state in %s: %w", l.st.Gateway, err)
	}
	// "<BROADCAST,MULTICAST,UP,LOWER_UP>": UP inside the flags means admin up.
	s := string(out)
	i, j := strings.IndexByte(s, '<'), strings.IndexByte(s, '>')
	if i < 0 || j < i {
		return false, fmt.Errorf("lab: uplink state: unexpected %q", strings.TrimSpace(s))
	}
	return slices.Contains(strings.Split(s[i+1:j], ","), "UP"), nil
}

// Ping sends one ICMP echo from the named host to dst and returns the round
// trip time.
func (l *Lab) Ping(ctx context.Context, from string, dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	ns, _, err := l.Resolve(from)
	if err != nil {
		return 0, err
	}
	return Ping(ctx, ns, dst, timeout)
}

// Alive reports whether the device's camsim process is running.
func (l *Lab) Alive(d Device) bool {
	return d.PID > 0 && procAlive(d.PID, d.StartTime)
}

// NamespaceExists reports whether a namespace of that name exists.
func NamespaceExists(ns string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", ns))
	return err == nil
}

// Down removes a lab from its state file: it works from a fresh process
// after a crash and is a no-op when nothing is left. Without a state file
// it still removes the lab's fixed namespaces (<prefix>-sw, -gw, -core,
// -app) if they exist: a crash before the first state write can leave no
// more than those.
func Down(ctx context.Context, opts Options) error {
	opts = opts.withDefaults()
	if err := Check(); err != nil {
		return err
	}
	l, err := Open(opts)
	if errors.Is(err, ErrNoLab) {
		sw, gw, core, app := fixedNamespaces(opts.Prefix)
		l = &Lab{opts: opts, procs: map[int]chan struct{}{}}
		l.st = state{Prefix: opts.Prefix, Bridge: sw, Gateway: gw, Core: core, App: app,
			Namespaces: []string{sw, gw, core, app}}
	} else if err != nil {
		return err
	}
	return l.Down(ctx)
}

// Down stops every process of the lab (recorded camsims and anything else
// running in its namespaces) and deletes its namespaces and state file. It
// is safe to call more than once.
func (l *Lab) Down(ctx context.Context) error {
	log := l.opts.Log
	l.mu.Lock()
	devs := slices.Clone(l.st.Devices)
	nss := slices.Clone(l.st.Namespaces)
	l.mu.Unlock()

	var victims []proc
	seen := map[int]bool{os.Getpid(): true}
	for _, d := range devs {
		if d.PID > 0 && !seen[d.PID] && procAlive(d.PID, d.StartTime) {
			seen[d.PID] = true
			victims = append(victims, proc{d.PID, d.StartTime})
		}
	}
	// Anything else started in the lab (the appliance, `cwlab exec`) is
	// found by namespace, so it cannot keep a deleted namespace alive.
	for _, ns := range nss {
		if !NamespaceExists(ns) {
			continue
		}
		pids, err := nsPids(ctx, ns)
		if err != nil {
			log.Warn("lab down: list processes", "ns", ns, "err", err)
			continue
		}
		for _, pid := range pids {
			if !seen[pid] {
				seen[pid] = true
				if st, err := procStartTime(pid); err == nil {
					victims = append(victims, proc{pid, st})
				}
			}
		}
	}
	var errs []error
	if len(victims) > 0 {
		log.Info("lab down: stopping processes", "count", len(victims))
		if err := stopAll(ctx, victims, l.opts.Grace); err != nil {
			errs = append(errs, err)
		}
	}
	// Devices first, the bridge last: deleting a host namespace removes its
	// veth from the bridge.
	for i := len(nss) - 1; i >= 0; i-- {
		ns := nss[i]
		if !NamespaceExists(ns) {
			continue
		}
		if err := ip(ctx, "netns", "del", ns); err != nil && NamespaceExists(ns) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab down %s: %w", l.opts.Prefix, errors.Join(errs...))
	}
	for _, d := range devs {
		if d.Pidfile != "" {
			_ = os.Remove(d.Pidfile)
		}
	}
	if err := os.Remove(l.statePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lab down: %w", err)
	}
	return nil
}

// writeFileAtomic writes the lab's state and profile files so that a
// reader (cwlab down, camsim) never sees half of one.
var writeFileAtomic = atomicfile.WriteFile
