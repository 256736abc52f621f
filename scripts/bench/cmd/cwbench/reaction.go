//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/camwarden/camwarden/scripts/bench"
	"github.com/camwarden/camwarden/scripts/lab"
)

// reactionSpec is the lab for the reaction and filter benchmarks: cameras
// and hosts the policy does not isolate, so the uplink is cut only by the
// camera under trial.
const reactionSpec = `name: cwbench
devices:
  - {profile: axis}
  - {profile: hanwha}
  - {profile: bosch}
  - {profile: pc}
  - {profile: printer}
`

func reactionLab(ctx context.Context, cfg config) (*lab.Lab, error) {
	spec, err := lab.ParseSpec([]byte(reactionSpec), "cwbench")
	if err != nil {
		return nil, err
	}
	return upLab(ctx, cfg, spec)
}

// trial is one measured reaction; zero durations were not observed.
type trial struct {
	verdict time.Duration // to the first inventory verdict naming Hikvision
	isolate time.Duration // to the verdict that decides isolate
	cut     time.Duration // to the uplink going down (netlink)
	// From the daemon's start (active path only).
	fromStart time.Duration
	restored  bool // the daemon brought the uplink back by itself
}

// trialMAC gives each trial its own Hikvision-OUI MAC (58:50:ED), so each
// is a device the daemon has never seen.
func trialMAC(kind byte, i int) net.HardwareAddr {
	return net.HardwareAddr{0x58, 0x50, 0xed, kind, byte(i >> 8), byte(i)}
}

func benchReaction(ctx context.Context, cfg config) error {
	l, err := reactionLab(ctx, cfg)
	if err != nil {
		return err
	}
	sn, err := startSniffer(l)
	if err != nil {
		return err
	}
	defer sn.close()
	lw, err := watchUplink(l)
	if err != nil {
		return err
	}
	defer lw.close()
	work, err := os.MkdirTemp("", "cwbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	passive, perr := passiveTrials(ctx, cfg, l, sn, lw, work)
	active, aerr := activeTrials(ctx, cfg, l, sn, lw, work)

	w := cfg.out
	fmt.Fprintf(w, "## reaction (issues 3, 6): Hikvision camera to verdict and to relay open\n\n")
	fmt.Fprintf(w, "Daemon: `camwarden run`, policy hikvision=isolate (needs strong confidence), hold 1s, auto_restore; lab of 5 non-isolated devices.\n")
	fmt.Fprintf(w, "Clocks: one clock in cwbench — frames from a packet socket on the lab bridge, verdicts from the daemon's log lines as they arrive, the relay from netlink link notifications in the gateway namespace.\n\n")
	fmt.Fprintf(w, "| path | measured from | to | n | p50 ms | p99 ms | min ms | max ms |\n|---|---|---|---|---|---|---|---|\n")
	row := func(path, from, to string, ds []time.Duration) {
		s := bench.Summarize(ds)
		fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %s | %s | %s |\n", path, from, to, s.N, bench.Ms(s.P50), bench.Ms(s.P99), bench.Ms(s.Min), bench.Ms(s.Max))
	}
	pick := func(ts []trial, f func(trial) time.Duration) []time.Duration {
		var out []time.Duration
		for _, t := range ts {
			if d := f(t); d > 0 {
				out = append(out, d)
			}
		}
		return out
	}
	const pf = "camera's first boot frame"
	row("passive (boot chatter)", pf, "verdict in inventory", pick(passive, func(t trial) time.Duration { return t.verdict }))
	row("passive (boot chatter)", pf, "isolate verdict", pick(passive, func(t trial) time.Duration { return t.isolate }))
	row("passive (boot chatter)", pf, "relay open (uplink down)", pick(passive, func(t trial) time.Duration { return t.cut }))
	const af = "daemon's first query on the wire"
	row("active (silent camera, start-up probes)", af, "verdict in inventory", pick(active, func(t trial) time.Duration { return t.verdict }))
	row("active (silent camera, start-up probes)", af, "isolate verdict", pick(active, func(t trial) time.Duration { return t.isolate }))
	row("active (silent camera, start-up probes)", af, "relay open (uplink down)", pick(active, func(t trial) time.Duration { return t.cut }))
	row("active (silent camera, start-up probes)", "daemon process start", "relay open (uplink down)", pick(active, func(t trial) time.Duration { return t.fromStart }))
	restored := 0
	for _, t := range passive {
		if t.restored {
			restored++
		}
	}
	fmt.Fprintf(w, "\nPassive trials: %d of %d planned; the daemon restored the uplink itself (auto_restore, camera gone) after %d of them.\n",
		len(passive), cfg.trials, restored)
	fmt.Fprintf(w, "Active trials: %d of %d planned (the daemon restarted per trial with a fresh state directory; the camera booted before any daemon ran, so only probing can find it).\n\n",
		len(active), cfg.trials)
	if perr != nil || aerr != nil {
		return fmt.Errorf("passive: %v; active: %v", perr, aerr)
	}
	return nil
}

// passiveTrials: one daemon runs throughout; each trial plugs a fresh
// namespace into the bridge and starts a Hikvision camsim in it, whose boot
// chatter (gratuitous ARP, DHCP, WS-Discovery Hello, ...) is the first the
// daemon hears of it.
func passiveTrials(ctx context.Context, cfg config, l *lab.Lab, sn *sniffer, lw *linkWatch, work string) ([]trial, error) {
	if _, err := ensureUp(ctx, l, time.Second); err != nil {
		return nil, err
	}
	d, err := startDaemon(ctx, cfg, l, filepath.Join(work, "passive"))
	if err != nil {
		return nil, err
	}
	defer d.p.stop(10 * time.Second)
	// Let it finish its start-up sweep of the lab before the first camera.
	time.Sleep(8 * time.Second)
	var out []trial
	var fails int
	for i := range cfg.trials {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		t, err := passiveTrial(ctx, cfg, l, sn, lw, d, work, i)
		if err != nil {
			fails++
			fmt.Fprintf(os.Stderr, "cwbench: passive trial %d: %v\n", i, err)
			if fails > 3 && fails > len(out) {
				return out, fmt.Errorf("too many failed trials; daemon log tail:\n%s", d.logTail())
			}
			continue
		}
		out = append(out, t)
		fmt.Fprintf(os.Stderr, "cwbench: passive %d/%d: verdict %s isolate %s cut %s\n", i+1, cfg.trials,
			bench.Ms(t.verdict), bench.Ms(t.isolate), bench.Ms(t.cut))
	}
	return out, nil
}

func passiveTrial(ctx context.Context, cfg config, l *lab.Lab, sn *sniffer, lw *linkWatch, d *daemon, work string, i int) (trial, error) {
	var tr trial
	mac := trialMAC(0xc5, i)
	addr := netip.AddrFrom4([4]byte{198, 18, 1, byte(100 + i%100)})
	name := fmt.Sprintf("t%d", i)
	ns, err := addHost(ctx, l, name, mac, addr)
	defer delNS(context.Background(), ns)
	if err != nil {
		return tr, err
	}
	time.Sleep(200 * time.Millisecond)
	sn.forget(mac)
	d.drain()
	lw.drain()
	logPath := filepath.Join(work, name+".camsim.log")
	clog, err := os.Create(logPath)
	if err != nil {
		return tr, err
	}
	defer clog.Close()
	started := time.Now()
	cs, err := startCamsim(ctx, cfg, ns, "hikvision", mac, addr, clog)
	if err != nil {
		return tr, err
	}
	verdictAt, isolateAt, cutAt := awaitReaction(ctx, d, lw, mac, 20*time.Second)
	cs.stop(3 * time.Second)
	first, ok := sn.firstFrom(mac)
	if !ok {
		first = started
		fmt.Fprintf(os.Stderr, "cwbench: passive trial %d: no frame from %s seen on the bridge; timing from camsim start\n", i, mac)
	}
	since := func(t time.Time) time.Duration {
		if t.IsZero() {
			return 0
		}
		return max(t.Sub(first), time.Microsecond)
	}
	tr.verdict, tr.isolate, tr.cut = since(verdictAt), since(isolateAt), since(cutAt)
	delNS(ctx, ns)
	// The camera is gone: after gone_after (3s) and the hold time (1s)
	// auto_restore brings the uplink back.
	restored, err := ensureUp(ctx, l, 20*time.Second)
	tr.restored = restored
	if err != nil {
		return tr, err
	}
	if verdictAt.IsZero() || cutAt.IsZero() {
		clogText, _ := os.ReadFile(logPath)
		return tr, fmt.Errorf("not observed within 20s: verdict %v, isolate %v, uplink cut %v\ncamsim log:\n%s\ndaemon log about it:\n%s",
			!verdictAt.IsZero(), !isolateAt.IsZero(), !cutAt.IsZero(), bench.Tail(string(clogText), 1500), d.logTail(mac.String(), addr.String()+" ", addr.String()+":", "uplink"))
	}
	return tr, nil
}

// activeTrials: a Hikvision camsim boots once while no daemon runs, so its
// chatter reaches nobody; then each trial starts a daemon with a fresh
// state directory, whose start-up sweep must find and probe it.
func activeTrials(ctx context.Context, cfg config, l *lab.Lab, sn *sniffer, lw *linkWatch, work string) ([]trial, error) {
	mac := trialMAC(0xc6, 1)
	addr := netip.AddrFrom4([4]byte{198, 18, 1, 99})
	ns, err := addHost(ctx, l, "silent", mac, addr)
	defer delNS(context.Background(), ns)
	if err != nil {
		return nil, err
	}
	cs, err := startCamsim(ctx, cfg, ns, "hikvision", mac, addr, nil)
	if err != nil {
		return nil, err
	}
	defer cs.stop(3 * time.Second)
	time.Sleep(3 * time.Second) // the boot burst and its repeat (2s) are over
	var out []trial
	var fails int
	for i := range cfg.trials {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		t, err := activeTrial(ctx, cfg, l, sn, lw, filepath.Join(work, fmt.Sprintf("active-%d", i)), mac)
		if err != nil {
			fails++
			fmt.Fprintf(os.Stderr, "cwbench: active trial %d: %v\n", i, err)
			if fails > 3 && fails > len(out) {
				return out, fmt.Errorf("too many failed trials")
			}
			continue
		}
		out = append(out, t)
		fmt.Fprintf(os.Stderr, "cwbench: active %d/%d: verdict %s isolate %s cut %s (from start %s)\n", i+1, cfg.trials,
			bench.Ms(t.verdict), bench.Ms(t.isolate), bench.Ms(t.cut), bench.Ms(t.fromStart))
	}
	return out, nil
}

func activeTrial(ctx context.Context, cfg config, l *lab.Lab, sn *sniffer, lw *linkWatch, state string, mac net.HardwareAddr) (trial, error) {
	var tr trial
	if _, err := ensureUp(ctx, l, time.Second); err != nil {
		return tr, err
	}
	defer os.RemoveAll(state)
	time.Sleep(100 * time.Millisecond)
	app, err := applianceMAC(l)
	if err != nil {
		return tr, err
	}
	sn.forget(mac, app)
	lw.drain()
	started := time.Now()
	d, err := startDaemon(ctx, cfg, l, state)
	if err != nil {
		return tr, err
	}
	defer func() {
		d.p.stop(10 * time.Second)
		_, _ = ensureUp(context.Background(), l, 0)
	}()
	verdictAt, isolateAt, cutAt := awaitReaction(ctx, d, lw, mac, 30*time.Second)
	// The clock starts at the daemon's first question on the wire (its
	// sweep's first ARP request or its first discovery probe): a silent
	// Hikvision answers SADP and WS-Discovery probes, so whichever the
	// daemon sends first can be what finds it.
	first, ok := sn.firstQuery(app)
	if !ok {
		return tr, fmt.Errorf("no ARP request or discovery probe from the appliance (%s) seen on the bridge\n%s", app, d.logTail())
	}
	since := func(t time.Time) time.Duration {
		if t.IsZero() {
			return 0
		}
		return max(t.Sub(first), time.Microsecond)
	}
	tr.verdict, tr.isolate, tr.cut = since(verdictAt), since(isolateAt), since(cutAt)
	if !cutAt.IsZero() {
		tr.fromStart = cutAt.Sub(started)
	}
	if verdictAt.IsZero() || cutAt.IsZero() {
		return tr, fmt.Errorf("not observed within 30s: verdict %v, isolate %v, uplink cut %v\n%s", !verdictAt.IsZero(), !isolateAt.IsZero(), !cutAt.IsZero(), d.logTail())
	}
	return tr, nil
}

// awaitReaction waits up to within for the daemon's Hikvision verdict on
// mac, its isolate decision and the uplink going down, and returns when each
// happened (zero when it did not).
func awaitReaction(ctx context.Context, d *daemon, lw *linkWatch, mac net.HardwareAddr, within time.Duration) (verdictAt, isolateAt, cutAt time.Time) {
	deadline := time.After(within)
wait:
	for verdictAt.IsZero() || isolateAt.IsZero() || cutAt.IsZero() {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline:
			break wait
		case ev := <-d.events:
			if ev.dev != nil && ev.dev.MAC == mac.String() && ev.dev.Maker == "hikvision" {
				if verdictAt.IsZero() {
					verdictAt = ev.t
				}
				if isolateAt.IsZero() && ev.dev.Action == "isolate" {
					isolateAt = ev.t
				}
			}
		case le := <-lw.events:
			if !le.up && cutAt.IsZero() {
				cutAt = le.t
			}
		}
	}
	return verdictAt, isolateAt, cutAt
}
