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
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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

// lineCounter counts the daemon's log lines (and keeps nothing else).
type lineCounter struct{ n atomic.Int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}

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
	time.Sleep(3 * time.Second) // the start-up sweep of the small lab
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
	warm, window, every := 20*time.Second, 60*time.Second, 10*time.Second
	floodN := 100_000
	if cfg.quick {
		warm, window, every, floodN = 6*time.Second, 8*time.Second, 4*time.Second, 16_000
	}
	type row struct {
		label         string
		rssKB, hwmKB  int64
		perDay        float64 // bytes/day extrapolated; <0 not measured
		window        time.Duration
		logLines      int64
		inventoryFile int64
	}
	var rows []row
	dbSize := func() int64 {
		st, err := os.Stat(filepath.Join(state, "inventory.db"))
		if err != nil {
			return -1
		}
		return st.Size()
	}
	idle := func(n int, measure bool) error {
		total := warm
		if measure {
			total += window
		}
		p, err := gen("-n", strconv.Itoa(n), "-every", every.String(), "-duration", (total + 2*time.Second).String())
		if err != nil {
			return err
		}
		defer p.stop(2 * time.Second)
		l0 := lines.n.Load()
		if err := sleepCtx(ctx, warm); err != nil {
			return err
		}
		r := row{label: fmt.Sprintf("%d idle devices", n), perDay: -1}
		if measure {
			w0 := writeBytes(pid)
			if err := sleepCtx(ctx, window); err != nil {
				return err
			}
			r.perDay = float64(writeBytes(pid)-w0) * float64(24*time.Hour) / float64(window)
			r.window = window
		}
		r.rssKB, r.hwmKB = procStatus(pid, "VmRSS"), procStatus(pid, "VmHWM")
		r.logLines, r.inventoryFile = lines.n.Load()-l0, dbSize()
		rows = append(rows, r)
		return nil
	}
	if err := idle(50, true); err != nil {
		return err
	}
	if err := idle(500, false); err != nil {
		return err
	}
	if err := idle(5000, true); err != nil {
		return err
	}
	// The flood: every frame a new MAC, 2,000 a second.
	l0 := lines.n.Load()
	p, err := gen("-flood", "-n", strconv.Itoa(floodN), "-rate", "2000")
	if err != nil {
		return err
	}
	var peak int64
	for done := false; !done; {
		select {
		case <-p.done:
			done = true
		case <-ctx.Done():
			p.stop(time.Second)
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		peak = max(peak, procStatus(pid, "VmRSS"))
	}
	if err := sleepCtx(ctx, 5*time.Second); err != nil { // a flush or two after it
		return err
	}
	rows = append(rows, row{label: fmt.Sprintf("flood of %d new MACs at 2,000/s (peak RSS during it)", floodN), rssKB: peak,
		hwmKB: procStatus(pid, "VmHWM"), perDay: -1, logLines: lines.n.Load() - l0, inventoryFile: dbSize()})
	rows = append(rows, row{label: "5 s after the flood", rssKB: procStatus(pid, "VmRSS"), hwmKB: procStatus(pid, "VmHWM"), perDay: -1,
		inventoryFile: dbSize()})

	exited := false
	select {
	case <-d.done:
		exited = true
	default:
	}
	fmt.Fprintf(w, "Daemon: `camwarden run`, max_devices 5000, lab of 5 devices plus a generator host sending ARP and DHCP from synthetic MACs (idle devices: one frame each per %s).\n", every)
	fmt.Fprintf(w, "Bytes written per day: /proc/PID/io write_bytes of the daemon over a %s window, times a day (extrapolated, not a day measured; logs go to a pipe and are not counted).\n\n", window)
	fmt.Fprintf(w, "| phase | RSS MB | peak RSS (VmHWM) MB | written per day | log lines | inventory.db MB |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		day := "-"
		if r.perDay >= 0 {
			day = fmt.Sprintf("%.1f MB", r.perDay/1e6)
		}
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %s | %d | %.2f |\n", r.label, float64(r.rssKB)/1024, float64(r.hwmKB)/1024, day, r.logLines, float64(r.inventoryFile)/1e6)
	}
	fmt.Fprintf(w, "\nTargets (issue 15): RSS <= 40 MB at 5,000 devices, <= 60 MB under the flood; <= 50 MB/day at 50 and <= 500 MB/day at 5,000 idle devices; <= 100 log lines during the flood.\n")
	if exited {
		fmt.Fprintf(w, "The daemon EXITED during the run: %v\n", d.err)
	}
	fmt.Fprintln(w)
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
