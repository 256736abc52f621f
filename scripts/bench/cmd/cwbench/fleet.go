//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/ota/fleet"
	"github.com/camwarden/camwarden/ota/fleet/fleetsim"
	"github.com/camwarden/camwarden/ota/fleet/pgserver"
)

func init() { extraBench["fleet"] = extra{run: benchFleet} }

// fleetBench is one run's shape and its results.
type fleetBench struct {
	cfg                config
	apps, devs, events int
	liveRate           int           // events/s published during the latency phase
	liveFor            time.Duration // length of that phase
	bin                string        // wardenctl
	dir                string
	pg                 *pgserver.Server
	brokerURL          string
	broker             *exec.Cmd
	pool               *pgxpool.Pool
	nextSeq            []uint64
}

// benchFleet simulates a fleet through a real mosquitto into a real
// PostgreSQL: 1,000 appliances x 50 devices (50 with --quick) and a stream
// of events. Ingest throughput is measured by draining a backlog the broker
// queued for offline persistent sessions, so the publisher's own speed does
// not cap it; latency is measured on a live stream at a fixed rate.
func benchFleet(ctx context.Context, cfg config) error {
	b := &fleetBench{cfg: cfg, apps: 1000, devs: 50, events: 50000, liveRate: 5000, liveFor: 5 * time.Second}
	if cfg.quick {
		b.apps, b.events, b.liveRate, b.liveFor = 50, 2500, 1000, 2*time.Second
	}
	b.bin = filepath.Join(cfg.bin, "wardenctl")
	if _, err := os.Stat(b.bin); err != nil {
		return fmt.Errorf("wardenctl not found in %s (make build, or --bin DIR): %w", cfg.bin, err)
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err != nil {
		return fmt.Errorf("mosquitto: %w (apt-get install mosquitto)", err)
	}
	var err error
	if b.dir, err = os.MkdirTemp("", "cwbench-fleet-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	// fsync on: the figures are for a store that survives a power cut.
	if b.pg, err = pgserver.Start("", pgserver.Options{Durable: true}); err != nil {
		return err
	}
	defer b.pg.Remove()
	if err := b.startBroker(); err != nil {
		return err
	}
	defer b.stopBroker()
	st, err := fleet.Open(ctx, b.pg.DSN(), "")
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	b.pool = st.Pool()

	load := b.load("site")
	b.nextSeq = make([]uint64, b.apps)
	fmt.Fprintf(cfg.out, "## fleet store: %d appliances x %d devices, %d events (%d messages per ingest run)\n\n",
		b.apps, b.devs, b.events, len(load))
	one, err := b.drain(ctx, "one", 1, load, false)
	if err != nil {
		return fmt.Errorf("one ingest process: %w", err)
	}
	oneLive, err := b.drain(ctx, "onelive", 1, b.load("live"), true)
	if err != nil {
		return fmt.Errorf("one ingest process, live: %w", err)
	}
	oneLive.stop()
	two, err := b.drain(ctx, "two", 2, b.load("shared"), true)
	if err != nil {
		return fmt.Errorf("two ingest processes: %w", err)
	}
	// two's processes keep running for the live phase.
	b.settle(ctx)
	// Below the box's capacity first, then at the target rate.
	l50, l99, lrate, err := b.latency(ctx, b.liveRate/5)
	if err != nil {
		two.stop()
		return fmt.Errorf("latency: %w", err)
	}
	p50, p99, rate, err := b.latency(ctx, b.liveRate)
	rss2 := two.stop()
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	// Export and report the last run's fleet (apps x devs devices) only.
	if _, err := b.pool.Exec(ctx, `DELETE FROM devices WHERE appliance NOT LIKE 'shared%'`); err != nil {
		return err
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM appliances WHERE id NOT LIKE 'shared%'`); err != nil {
		return err
	}
	exportT, exportRSS, err := b.timeCmd(ctx, "export", "--db", b.pg.DSN(), "--format", "csv", "--out", filepath.Join(b.dir, "fleet.csv"))
	if err != nil {
		return err
	}
	reportT, reportRSS, err := b.timeCmd(ctx, "report", "--db", b.pg.DSN(), "--out", filepath.Join(b.dir, "fleet.html"))
	if err != nil {
		return err
	}
	var devices int
	_ = b.pool.QueryRow(ctx, `SELECT count(*) FROM devices`).Scan(&devices)
	brokerRSS := vmHWM(b.broker.Process.Pid)
	pgRSS := treeRSS(b.pg.PID())

	w := tabwriter.NewWriter(cfg.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "figure\tmeasured\ttarget")
	fmt.Fprintf(w, "ingest, one process, queued backlog\t%.0f msg/s (%d in %s)\t≥ 5,000 msg/s\n", one.rate, len(load), one.took.Round(time.Millisecond))
	fmt.Fprintf(w, "ingest, one process, live (simulator on the same box)\t%.0f msg/s\t\n", oneLive.rate)
	fmt.Fprintf(w, "ingest, two processes, live (shared subscription)\t%.0f msg/s (×%.2f of one, live)\t~2×\n", two.rate, two.rate/oneLive.rate)
	fmt.Fprintf(w, "appliance event → database row\tp50 %s, p99 %s at %.0f events/s\t\n", l50.Round(time.Millisecond), l99.Round(time.Millisecond), lrate)
	fmt.Fprintf(w, "appliance event → database row\tp50 %s, p99 %s at %.0f events/s\tp99 ≤ 1 s\n", p50.Round(time.Millisecond), p99.Round(time.Millisecond), rate)
	fmt.Fprintf(w, "export of %d devices (CSV)\t%s\t≤ 5 s\n", devices, exportT.Round(time.Millisecond))
	fmt.Fprintf(w, "report of %d devices (HTML)\t%s\t≤ 10 s\n", devices, reportT.Round(time.Millisecond))
	for _, name := range []string{"one-0", "onelive-0", "two-0", "two-1"} {
		raw, _ := os.ReadFile(filepath.Join(b.dir, "ingest-"+name+".log"))
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		fmt.Fprintf(w, "ingest %s (whole run)\t%s\t\n", name, strings.TrimPrefix(lines[len(lines)-1], "ingest: "))
	}
	fmt.Fprintf(w, "peak RSS: ingest, one process\t%s\t\n", mb(one.rss[0]))
	fmt.Fprintf(w, "peak RSS: ingest, two processes\t%s\t\n", strings.Join(mapStr(rss2, mb), " + "))
	fmt.Fprintf(w, "peak RSS: export / report\t%s / %s\t\n", mb(exportRSS), mb(reportRSS))
	fmt.Fprintf(w, "peak RSS: mosquitto; postgres (all processes, at the end)\t%s; %s\t\n", mb(brokerRSS), mb(pgRSS))
	return w.Flush()
}

// load is what the fleet publishes: a status and 50 retained devices per
// appliance (one in ten restricted), then events spread over the fleet.
func (b *fleetBench) load(prefix string) []fleet.Publication {
	now := time.Now().UTC()
	out := make([]fleet.Publication, 0, b.apps*(b.devs+1)+b.events)
	seq := make([]uint64, b.apps)
	for a := range b.apps {
		id := fmt.Sprintf("%s%03d-cam-%d", prefix, a/4, a)
		seq[a]++
		out = append(out, fleet.StatusPub(id, seq[a], 1, now, report.Status{Online: true, Firmware: "1.4.0", PolicyVersion: 12, Devices: b.devs}))
		for d := range b.devs {
			seq[a]++
			dev := report.Device{MAC: fmt.Sprintf("02:%02x:%02x:00:00:%02x", a>>8, a&0xff, d), IP: fmt.Sprintf("198.18.%d.%d", a%200, d+10),
				Maker: "axis", Model: "P3245-LVE", Confidence: "strong", Status: report.StatusClean, FirstSeen: now,
				Evidence: []report.EvidenceItem{{Probe: "onvif", Detail: "GetDeviceInformation names AXIS P3245-LVE", Maker: "axis", Strength: "strong"}}}
			if d%10 == 0 {
				dev.Maker, dev.Brand, dev.Model, dev.Flagged, dev.Action, dev.Status, dev.Confidence = "hikvision", "LTS", "DS-2CD2385G1-I", true, "isolate", report.StatusFlagged, "definitive"
				dev.Evidence = []report.EvidenceItem{{Probe: "sadp", Detail: "SADP reply names model DS-2CD2385G1-I", Maker: "hikvision", Strength: "definitive"}}
			}
			out = append(out, fleet.DevicePub(id, seq[a], now, dev))
		}
	}
	for e := range b.events {
		a := e % b.apps
		seq[a]++
		out = append(out, fleet.EventPub(fmt.Sprintf("%s%03d-cam-%d", prefix, a/4, a), seq[a], now, report.EvtDeviceNew, "", nil, false))
	}
	return out
}

type ingestRun struct {
	procs []*exec.Cmd
	done  []chan struct{}
	rate  float64
	took  time.Duration
	rss   []int64
}

func (r *ingestRun) stop() []int64 {
	for i, p := range r.procs {
		if p.Process != nil {
			_ = p.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done[i]:
			case <-time.After(15 * time.Second):
				_ = p.Process.Kill()
				<-r.done[i]
			}
		}
		if p.ProcessState != nil {
			if ru, ok := p.ProcessState.SysUsage().(*syscall.Rusage); ok {
				r.rss = append(r.rss, int64(ru.Maxrss)*1024)
			}
		}
	}
	return r.rss
}

func (b *fleetBench) startIngest(name string, n int) *ingestRun {
	r := &ingestRun{}
	for i := range n {
		cmd := exec.Command(b.bin, "ingest", "--db", b.pg.DSN(), "--broker", b.brokerURL, "--share", "bench-"+name,
			"--client-id", fmt.Sprintf("bench-%s-%d", name, i))
		logf, _ := os.Create(filepath.Join(b.dir, fmt.Sprintf("ingest-%s-%d.log", name, i)))
		cmd.Stdout, cmd.Stderr = logf, logf
		done := make(chan struct{})
		if err := cmd.Start(); err != nil {
			close(done)
		} else {
			go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
		}
		r.procs, r.done = append(r.procs, cmd), append(r.done, done)
	}
	return r
}

// drain makes n persistent shared-subscription sessions, stops them, has
// the broker queue the whole load for them, then times n processes
// storing it. With live, the processes stay connected and the load is
// published to them, timed from the first message to the last row.
// (A backlog queued while every member of a group is offline is measured
// with one process: which member mosquitto queues it for is its choice.)
func (b *fleetBench) drain(ctx context.Context, name string, n int, load []fleet.Publication, live bool) (*ingestRun, error) {
	// A fresh broker per run: no retained messages of earlier runs, which
	// every new subscription would be handed and would be counted here.
	b.stopBroker()
	if err := b.startBroker(); err != nil {
		return nil, err
	}
	r := b.startIngest(name, n)
	time.Sleep(1500 * time.Millisecond) // connected and subscribed
	if live {
		// The load's appliances are new (own prefix): every message is a
		// new row. Earlier phases' retained messages arrive at subscribe
		// and are stored before the clock starts.
		b.settle(ctx)
		have := b.count(ctx)
		start := time.Now()
		if err := b.publish(ctx, load, 8); err != nil {
			return nil, err
		}
		return r, b.waitStored(ctx, r, start, have+len(load), len(load))
	}
	r.stop()
	// mosquitto 2.0.11 hands a new shared subscription the retained
	// messages; each run starts from an empty store all the same.
	if err := b.reset(ctx); err != nil {
		return nil, err
	}
	if err := b.publish(ctx, load, 8); err != nil {
		return nil, err
	}
	r = b.startIngest(name, n)
	if err := b.waitStored(ctx, r, time.Now(), len(load), len(load)); err != nil {
		return nil, err
	}
	if name == "one" {
		r.stop()
		// Drop the session so the broker stops queueing for it.
		c := paho.NewClient(paho.NewClientOptions().AddBroker(b.brokerURL).SetClientID("bench-one-0").SetCleanSession(true))
		if t := c.Connect(); t.WaitTimeout(5*time.Second) && t.Error() == nil {
			c.Disconnect(100)
		}
	}
	return r, nil
}

func (b *fleetBench) waitStored(ctx context.Context, r *ingestRun, start time.Time, want, msgs int) error {
	for b.count(ctx) < want {
		if time.Since(start) > 10*time.Minute || ctx.Err() != nil {
			r.stop()
			return fmt.Errorf("%d of %d messages stored after %s", b.count(ctx), want, time.Since(start).Round(time.Second))
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.took = time.Since(start)
	r.rate = float64(msgs) / r.took.Seconds()
	return nil
}

// count is every stored message: events, device reports (current rows),
// statuses (appliances that have one).
func (b *fleetBench) count(ctx context.Context) int {
	var n int
	_ = b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM devices) +
		(SELECT count(*) FROM appliances WHERE session IS NOT NULL)`).Scan(&n)
	return n
}

func (b *fleetBench) reset(ctx context.Context) error {
	_, err := b.pool.Exec(ctx, `TRUNCATE appliances, devices, device_history, events, acknowledgements, policy_reports, ota_reports, rejected`)
	return err
}

func (b *fleetBench) publish(ctx context.Context, ms []fleet.Publication, conns int) error {
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := fleetsim.Connect(ctx, b.brokerURL, fmt.Sprintf("bench-sim-%d", c), "", "")
			if err != nil {
				errs[c] = err
				return
			}
			defer p.Close()
			var mine []fleet.Publication
			for i := c; i < len(ms); i += conns {
				mine = append(mine, ms[i])
			}
			errs[c] = p.SendAll(ctx, mine, 500)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// settle waits until the ingest processes have stopped committing (the
// backlog's re-deliveries done), so latency measures a live stream only.
func (b *fleetBench) settle(ctx context.Context) {
	commits := func() int64 {
		var n int64
		_ = b.pool.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
		return n
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; {
		before := commits()
		time.Sleep(500 * time.Millisecond)
		if commits()-before < 5 { // our own two queries, and little else
			return
		}
	}
}

// latency publishes events at liveRate for liveFor, each stamped with the
// time it is sent, and reads how long each took to become a row.
func (b *fleetBench) latency(ctx context.Context, liveRate int) (p50, p99 time.Duration, rate float64, err error) {
	const conns = 4
	pubs := make([]*fleetsim.Publisher, conns)
	for i := range pubs {
		if pubs[i], err = fleetsim.Connect(ctx, b.brokerURL, fmt.Sprintf("bench-live-%d", i), "", ""); err != nil {
			return 0, 0, 0, err
		}
		defer pubs[i].Close()
	}
	total := int(float64(liveRate) * b.liveFor.Seconds())
	typ := fmt.Sprintf("bench_latency_%d", liveRate)
	before := b.count(ctx)
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2000)
	for i := range total {
		// Paced: message i leaves at start + i/rate.
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(liveRate))); d > 0 {
			time.Sleep(d)
		}
		a := i % b.apps
		b.nextSeq[a]++
		m := fleet.EventPub(fmt.Sprintf("lat%03d-cam-%d", a/4, a), b.nextSeq[a], time.Now(), typ, "", nil, false)
		sem <- struct{}{}
		wg.Add(1)
		go func(p *fleetsim.Publisher) {
			defer wg.Done()
			defer func() { <-sem }()
			_ = p.Send(ctx, m)
		}(pubs[i%conns])
	}
	wg.Wait()
	rate = float64(total) / time.Since(start).Seconds()
	for deadline := time.Now().Add(2 * time.Minute); b.count(ctx) < before+total; {
		if time.Now().After(deadline) {
			return 0, 0, rate, fmt.Errorf("%d of %d live events stored", b.count(ctx)-before, total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var s50, s99 float64
	err = b.pool.QueryRow(ctx, `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - ts)),
		percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - ts)) FROM events WHERE type = $1`, typ).Scan(&s50, &s99)
	return time.Duration(s50 * float64(time.Second)), time.Duration(s99 * float64(time.Second)), rate, err
}

func (b *fleetBench) timeCmd(ctx context.Context, args ...string) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, b.bin, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("wardenctl %s: %w\n%s", args[0], err, out)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = int64(ru.Maxrss) * 1024
	}
	return took, rss, nil
}

func (b *fleetBench) startBroker() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(b.dir, "mosquitto.conf")
	// Loopback only; anonymous is fine there. The in-flight window is
	// what lets an ingest process batch: it holds at most this many
	// unacknowledged messages.
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`user root
listener %d 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 0
`, port)), 0o600); err != nil {
		return err
	}
	logf, _ := os.Create(filepath.Join(b.dir, "mosquitto.log"))
	b.broker = exec.Command("/usr/sbin/mosquitto", "-c", conf)
	b.broker.Stdout, b.broker.Stderr = logf, logf
	if err := b.broker.Start(); err != nil {
		return err
	}
	b.brokerURL = fmt.Sprintf("tcp://127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", b.brokerURL[len("tcp://"):]); err == nil {
			c.Close()
			return nil
		}
	}
	return errors.New("mosquitto did not listen within 10s")
}

func (b *fleetBench) stopBroker() {
	if b.broker != nil && b.broker.Process != nil {
		_ = b.broker.Process.Signal(syscall.SIGTERM)
		_ = b.broker.Wait()
	}
}

// vmHWM is a live process's peak resident set (bytes).
func vmHWM(pid int) int64 { return statusKB(pid, "VmHWM:") * 1024 }

func statusKB(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// treeRSS sums the resident sets of pid and its children now (the
// postmaster and its backends; shared buffers are counted once per process
// that touched them, so this overstates).
func treeRSS(pid int) int64 {
	total := statusKB(pid, "VmRSS:")
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, c := range strings.Fields(string(raw)) {
		if n, err := strconv.Atoi(c); err == nil {
			total += statusKB(n, "VmRSS:")
		}
	}
	return total * 1024
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }

func mapStr(xs []int64, f func(int64) string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range slices.Clone(xs) {
		out = append(out, f(x))
	}
	return out
}
