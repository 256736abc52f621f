//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/scripts/lab"
)

func init() { extraBench["memory"] = extra{run: benchMemory, needLab: true} }

// memConfig is the daemon of the memory run: the inventory cap of issue 15,
// nothing isolated, devices kept as present for the whole run.
const memConfig = `appliance_id: cwbench-mem
state_dir: %s
log_level: info
interfaces: [{name: eth0, subnets: [198.18.1.0/24]}]
probing: {sweep_interval: 0s}
inventory: {max_devices: 5000, gone_after: 30m}
board: {kind: console, lab_relay: {netns: %s, link: %s}}
`

// lineCounter counts the daemon's log lines and keeps nothing else but the
// live heap the Go runtime's GC trace (GODEBUG=gctrace=1, on stderr)
// reports after each collection; trace lines are not log lines.
type lineCounter struct {
	n       atomic.Int64
	liveMB  atomic.Int64 // heap marked live by the last GC, MB
	mu      sync.Mutex
	partial []byte
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	buf := append(c.partial, p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		c.line(buf[:i])
		buf = buf[i+1:]
	}
	c.partial = append(c.partial[:0], buf...)
	return len(p), nil
}

// line takes "gc 12 @3.1s 1%: ... , 9->10->5 MB, 11 MB goal, ..." as a GC
// trace line (5 MB live) and anything else as a log line.
func (c *lineCounter) line(l []byte) {
	if !bytes.HasPrefix(l, []byte("gc ")) {
		c.n.Add(1)
		return
	}
	for _, f := range strings.Split(string(l), ",") {
		f = strings.TrimSpace(f)
		if h, ok := strings.CutSuffix(f, " MB"); ok && strings.Count(h, "->") == 2 {
			parts := strings.Split(h, "->")
			if v, err := strconv.ParseInt(parts[2], 10, 64); err == nil {
				c.liveMB.Store(v)
			}
		}
	}
}

// memLimit is the GOMEMLIMIT of scripts/systemd/camwarden.service: the run
// measures the daemon as the package starts it (TestMemLimitMatchesUnit).
const memLimit = "28MiB"

// procStat reads a field (kB) of /proc/PID/status.
func procStatus(pid int, field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return -1
}

// writeBytes is /proc/PID/io write_bytes: what the process caused to be
// written to storage (its state directory; logs go to a pipe).
func writeBytes(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "write_bytes:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			return v
		}
	}
	return -1
}

// inventoryBytesPerDevice is the Go-heap cost of one device in the
// inventory, with the eight facts a camera typically leaves.
func inventoryBytesPerDevice(n int) float64 {
	facts := []probes.Fact{probes.F("arp.op", "reply"), probes.F("dhcp.hostname", "IPCamera"),
		probes.F("dhcp.vendor_class", "udhcp 1.20.2"), probes.F("dhcp.prl", "1,3,6,12,15,28,42"),
		probes.F("sadp.model", "DS-2CD2385G1-I"), probes.F("sadp.firmware", "V5.6.3 build 190923"),
		probes.F("sadp.serial", "DS-2CD2385G1-I20200101AAWRD12345678"), probes.F("oui.vendor", "Hangzhou Hikvision")}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	inv, _ := inventory.Open(inventory.Options{MaxDevices: n})
	for i := range n {
		inv.Merge(probes.Observation{Time: time.Now(), MAC: genMAC(i), IP: netip.AddrFrom4(genIP(i)), Probe: "sadp", Facts: facts})
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(inv)
	return float64(m1.HeapAlloc-m0.HeapAlloc) / float64(n)
}

// benchMemory runs the real daemon in the lab and feeds it synthetic
// devices from a generator host on the bridge: RSS with 500 and 5,000
// devices and under a 100,000-MAC flood, and bytes written per day with 50
// and 5,000 idle devices (write_bytes over a window, extrapolated).
func benchMemory(ctx context.Context, cfg config) error {
	w := cfg.out
	fmt.Fprintf(w, "## memory and wear (issue 15)\n\n")
	fmt.Fprintf(w, "Inventory heap per device (Go, 5,000 devices with 8 facts each): %.0f bytes.\n\n", inventoryBytesPerDevice(5000))

	l, err := reactionLab(ctx, cfg)
	if err != nil {
		return err
	}
	defer l.Down(context.Background())
	work, err := os.MkdirTemp("/var/tmp", "cwbench-mem-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	state := filepath.Join(work, "state")
	if err := os.MkdirAll(state, 0o750); err != nil {
		return err
	}
	conf := filepath.Join(work, "camwarden.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(memConfig, state, l.GatewayNS(), lab.UplinkLink)), 0o600); err != nil {
		return err
	}
	cmd, err := l.Command(ctx, "app", filepath.Join(cfg.bin, "camwarden"), "run", "--config", conf)
	if err != nil {
		return err
	}
	cmd.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit, "GODEBUG=gctrace=1")
	lines := &lineCounter{}
	logf, err := os.Create(filepath.Join(work, "daemon.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout = io.MultiWriter(lines, logf)
	cmd.Stderr = cmd.Stdout
	stdin, err := cmd.StdinPipe() // the console board's button: never pressed
	if err != nil {
		return err
	}
	defer stdin.Close()
	d, err := startProc(cmd)
	if err != nil {
		return err
	}
	defer d.stop(5 * time.Second)
	pid := cmd.Process.Pid
	// RSS is sampled twice a second all along; each phase reads the peak
	// of its own span.
	var peakKB atomic.Int64
	go func() {
		for {
			select {
			case <-d.done:
				return
			case <-time.After(500 * time.Millisecond):
			}
			if v := procStatus(pid, "VmRSS"); v > peakKB.Load() {
				peakKB.Store(v)
			}
		}
	}()
	time.Sleep(3 * time.Second) // the start-up sweep of the small lab
	// Three Hikvision cameras the daemon flags: the flood must not evict them.
	const nFlagged = 3
	for i := range nFlagged {
		mac := trialMAC(0xc7, i)
		ns, err := addHost(ctx, l, fmt.Sprintf("hk%d", i), mac, netip.AddrFrom4([4]byte{198, 18, 1, byte(120 + i)}))
		if err != nil {
			return err
		}
		cs, err := startCamsim(ctx, cfg, ns, "hikvision", mac, netip.AddrFrom4([4]byte{198, 18, 1, byte(120 + i)}), io.Discard)
		if err != nil {
			return err
		}
		defer cs.stop(2 * time.Second)
	}
	var flaggedMACs []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if flaggedMACs = readFlagged(state); len(flaggedMACs) >= nFlagged {
			break
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
	genNS, err := addHost(ctx, l, "gen", net.HardwareAddr{0x02, 0xcb, 0xff, 0, 0, 1}, netip.MustParseAddr("198.18.1.249"))
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// gen runs the frame generator for at most dur and returns its stop.
	gen := func(args ...string) (*proc, error) {
		c := lab.NSCommand(ctx, genNS, exe, append([]string{"_frames"}, args...)...)
		c.Stdout, c.Stderr = io.Discard, os.Stderr
		return startProc(c)
	}
	// warm covers more than one round of chatter, so the window sees idle
	// devices, not new ones.
	// The wear window spans the daemon's longest write period (the
	// inventory's sightings batch and the state.json heartbeat, both 10
	// minutes): a shorter one would extrapolate from a stretch that
	// happened to hold none, or one, of them.
	warm, window, rssWindow, every, settleMax := 20*time.Second, 10*time.Minute+10*time.Second, 30*time.Second, 10*time.Second, 90*time.Second
	floodN := 100_000
	if cfg.quick {
		warm, window, rssWindow, every, settleMax, floodN = 6*time.Second, 8*time.Second, 4*time.Second, 4*time.Second, 20*time.Second, 16_000
	}
	type row struct {
		label            string
		devices          int
		rssKB, peakKB    int64
		liveMB           int64
		perDay           float64 // bytes/day extrapolated; <0 not measured
		logLines         int64
		flaggedEvicted   int // <0: not measured
		capDrop, pipDrop uint64
	}
	var rows []row
	finish := func(r row, l0 int64) row {
		st := readStatus(state)
		r.devices, r.capDrop, r.pipDrop = st.Devices, st.CaptureDropped, st.PipelineDropped
		r.rssKB, r.peakKB, r.liveMB = procStatus(pid, "VmRSS"), peakKB.Load(), lines.liveMB.Load()
		r.logLines = lines.n.Load() - l0
		return r
	}
	// The lab's own hosts count towards the inventory: the generator makes
	// up the rest, so "5,000 devices" fits max_devices rather than evicting
	// one device per frame.
	// A few to spare: a lab host's second MAC (IPv6, a bridge port) must
	// not push the total over the cap.
	base := readStatus(state).Devices + 4
	idle := func(n int, wear bool) error {
		p, err := gen("-n", strconv.Itoa(n-base), "-every", every.String(), "-duration", (warm + settleMax + 4*every).String())
		if err != nil {
			return err
		}
		defer func() { p.stop(2 * time.Second) }()
		l0 := lines.n.Load()
		peakKB.Store(0)
		if err := sleepCtx(ctx, warm); err != nil {
			return err
		}
		// Idle means learnt: on a loaded box the daemon can take longer
		// than the warm-up to meet every device (the kernel drops some of
		// the first round), and until then it is writing what it learns.
		// Wait for the count (state.json lags by up to 30 s), then four
		// more rounds of chatter: the second round brings the addresses,
		// and what they change reaches the disk within a flush and the
		// 10 s devices.json gap.
		settled := time.Now()
		for deadline := time.Now().Add(settleMax); time.Now().Before(deadline); {
			if readStatus(state).Devices >= n-4-1 {
				settled = time.Now()
				break
			}
			if err := sleepCtx(ctx, 2*time.Second); err != nil {
				return err
			}
		}
		if err := sleepCtx(ctx, min(4*every, time.Until(settled.Add(settleMax)))); err != nil {
			return err
		}
		// A generator runs two minutes at most (maxHelperRun): the window
		// gets fresh ones in turn, saying the same things from the same
		// MACs.
		p.stop(2 * time.Second)
		span := rssWindow
		if wear {
			span = window
		}
		w0 := writeBytes(pid)
		for end := time.Now().Add(span); time.Now().Before(end); {
			chunk := min(time.Until(end), maxHelperRun-5*time.Second)
			if p, err = gen("-n", strconv.Itoa(n-base), "-every", every.String(), "-duration", (chunk + 2*time.Second).String()); err != nil {
				return err
			}
			err := sleepCtx(ctx, chunk)
			p.stop(2 * time.Second)
			if err != nil {
				return err
			}
		}
		perDay := -1.0
		if wear {
			perDay = float64(writeBytes(pid)-w0) * float64(24*time.Hour) / float64(span)
		}
		rows = append(rows, finish(row{label: fmt.Sprintf("%d idle devices", n), perDay: perDay, flaggedEvicted: -1}, l0))
		return nil
	}
	// Wear is measured where issue 15 sets targets (50 and 5,000 idle
	// devices); 500 gets its RSS only, which saves ten minutes.
	for _, n := range []int{50, 500, 5000} {
		if err := idle(n, n != 500); err != nil {
			return err
		}
	}
	// The flood: every frame a new MAC, 2,000 a second.
	l0 := lines.n.Load()
	peakKB.Store(0)
	p, err := gen("-flood", "-n", strconv.Itoa(floodN), "-rate", "2000")
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop(time.Second)
		return ctx.Err()
	}
	// devices.json is rewritten at most every 10 s: wait for the one that
	// follows the flood.
	if err := sleepCtx(ctx, 12*time.Second); err != nil {
		return err
	}
	after := map[string]bool{}
	for _, m := range readFlagged(state) {
		after[m] = true
	}
	evicted := 0
	for _, m := range flaggedMACs {
		if !after[m] {
			evicted++
		}
	}
	rows = append(rows, finish(row{label: fmt.Sprintf("flood: %d new MACs at 2,000/s, then 12 s", floodN), perDay: -1,
		flaggedEvicted: evicted}, l0))

	exited := false
	select {
	case <-d.done:
		exited = true
	default:
	}
	fmt.Fprintf(w, "Daemon: `camwarden run` with GOMEMLIMIT=%s (as the systemd unit), max_devices 5000, lab of 5 devices, %d Hikvision cameras it flags, and a generator host sending ARP and DHCP from synthetic MACs (idle devices: one frame each per %s).\n", memLimit, len(flaggedMACs), every)
	fmt.Fprintf(w, "Each idle phase: %s of chatter first, then until the daemon counts them all (at most %s) and four rounds more, then a window: %s where wear is measured (the daemon's longest write period, 10 minutes, and a little more), %s otherwise. RSS: VmRSS at the end of the phase; peak: the highest of samples every 0.5 s during it. Live heap: what the last GC before the end marked live (GODEBUG=gctrace=1). Written per day: /proc/PID/io write_bytes over the window, times a day (extrapolated, not a day measured; logs go to a pipe and are not counted). Drops: kernel (capture) and pipeline queue, totals since start, from state.json.\n\n", warm, settleMax, window, rssWindow)
	fmt.Fprintf(w, "| phase | devices | RSS MB | peak RSS MB | live heap MB | written per day | log lines | flagged evicted | drops kernel / pipeline |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		day, ev := "-", "-"
		if r.perDay >= 0 {
			day = fmt.Sprintf("%.1f MB", r.perDay/1e6)
		}
		if r.flaggedEvicted >= 0 {
			ev = fmt.Sprintf("%d of %d", r.flaggedEvicted, len(flaggedMACs))
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %d | %s | %d | %s | %d / %d |\n", r.label, r.devices, float64(r.rssKB)/1024,
			float64(r.peakKB)/1024, r.liveMB, day, r.logLines, ev, r.capDrop, r.pipDrop)
	}
	fmt.Fprintf(w, "\nTargets (issue 15): RSS <= 40 MB at 5,000 devices, <= 60 MB under the flood; <= 50 MB/day at 50 and <= 500 MB/day at 5,000 idle devices; <= 100 log lines during the flood; 0 flagged devices evicted.\n")
	if exited {
		fmt.Fprintf(w, "The daemon EXITED during the run: %v\n", d.err)
	}
	fmt.Fprintln(w)
	return nil
}

// memStatus is the part of state.json the memory run reads.
type memStatus struct {
	Devices         int    `json:"devices"`
	CaptureDropped  uint64 `json:"capture_dropped"`
	PipelineDropped uint64 `json:"pipeline_dropped"`
}

func readStatus(state string) memStatus {
	var s struct {
		Status memStatus `json:"status"`
	}
	b, _ := os.ReadFile(filepath.Join(state, "state.json"))
	json.Unmarshal(b, &s)
	return s.Status
}

// readFlagged lists the flagged devices of devices.json.
func readFlagged(state string) []string {
	var s struct {
		Devices []struct {
			MAC     string `json:"mac"`
			Flagged bool   `json:"flagged"`
		} `json:"devices"`
	}
	b, _ := os.ReadFile(filepath.Join(state, "devices.json"))
	json.Unmarshal(b, &s)
	var out []string
	for _, d := range s.Devices {
		if d.Flagged {
			out = append(out, d.MAC)
		}
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
