package fleet_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
	"github.com/camwarden/camwarden/ota/fleet"
	"github.com/camwarden/camwarden/ota/fleet/fleetsim"
	"github.com/camwarden/camwarden/ota/fleet/pgserver/pgtest"
)

// The test binary doubles as an ingest process, so the test can SIGKILL a
// real one: CWFLEET_INGEST=dsn|broker|clientid|group.
func TestMain(m *testing.M) {
	if spec := os.Getenv("CWFLEET_INGEST"); spec != "" {
		os.Exit(ingestHelper(spec))
	}
	os.Exit(m.Run())
}

func ingestHelper(spec string) int {
	var dsn, broker, id, group string
	parts := splitN(spec, "|", 4)
	dsn, broker, id, group = parts[0], parts[1], parts[2], parts[3]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st, err := fleet.Open(ctx, dsn, "")
	if err != nil {
		log.Error("open", "err", err)
		return 1
	}
	defer st.Close()
	for ctx.Err() == nil {
		if err = st.Migrate(ctx); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetUsername(mosquittotest.AdminUser).
		SetPassword("admin-pw").SetProtocolVersion(4)
	trace := func(ms []fleet.Message) {
		for _, m := range ms {
			if m.Kind == fleet.KindEvent {
				fmt.Fprintf(os.Stderr, "committed %s/%d\n", m.Appliance, m.Seq)
			}
		}
	}
	if err := fleet.Ingest(ctx, st, fleet.IngestOptions{Client: o, Group: group, Logger: log, Committed: trace}, nil); err != nil {
		log.Error("ingest", "err", err)
		return 1
	}
	return 0
}

func splitN(s, sep string, n int) []string {
	out := make([]string, 0, n)
	for len(out) < n-1 {
		i := indexOf(s, sep)
		if i < 0 {
			break
		}
		out, s = append(out, s[:i]), s[i+len(sep):]
	}
	out = append(out, s)
	for len(out) < n {
		out = append(out, "")
	}
	return out
}

func indexOf(s, sep string) int {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return i
		}
	}
	return -1
}

// ingestProc is an ingest process the test can kill.
type ingestProc struct {
	t    *testing.T
	spec string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *lockedBuf
}

type lockedBuf struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) < 1<<20 {
		l.b = append(l.b, p...)
	}
	return len(p), nil
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

func startIngest(t *testing.T, dsn, broker, id, group string) *ingestProc {
	p := &ingestProc{t: t, spec: dsn + "|" + broker + "|" + id + "|" + group, log: &lockedBuf{}}
	p.start()
	t.Cleanup(func() {
		p.signal(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("ingest %s log:\n%s", id, p.log.String())
		}
	})
	return p
}

func (p *ingestProc) start() {
	p.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CWFLEET_INGEST="+p.spec)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
}

func (p *ingestProc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func count(t *testing.T, pool *pgxpool.Pool, q string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitCount polls until q returns want (or the deadline), returning the
// last value.
func waitCount(t *testing.T, pool *pgxpool.Pool, want int, d time.Duration, q string) int {
	t.Helper()
	deadline := time.Now().Add(d)
	n := -1
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := pool.QueryRow(ctx, q).Scan(&n)
		cancel()
		if err == nil && n >= want {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
	return n
}

func dev(i int, status string) report.Device {
	d := report.Device{MAC: fmt.Sprintf("02:00:00:00:%02x:%02x", i/256, i%256), IP: fmt.Sprintf("198.18.%d.%d", i/250, 1+i%250),
		Confidence: "weak", Status: status}
	if status == report.StatusFlagged {
		d.Maker, d.Brand, d.Flagged, d.Action, d.Confidence = "hikvision", "LTS", true, "isolate", "definitive"
		d.Evidence = []report.EvidenceItem{{Probe: "sadp", Detail: "model DS-2CD2385G1-I"}}
	}
	return d
}

// TestIngestExactlyOnceAcrossFailures runs two ingest processes on one
// shared subscription while simulated appliances publish, and in the middle
// SIGKILLs one ingest, restarts the broker and crashes the database. Every
// event must be in the database exactly once, and every device's current
// verdict and history must be right.
//
// Broker restarts run with a plain subscription: mosquitto 2.0.11 (Debian
// 12) does not restore shared subscriptions from its persistence file, so
// after a restart a shared group receives nothing until its processes
// subscribe again, and the broker drops what arrives before that (see the
// README). A plain persistent subscription is restored and loses nothing.
func TestIngestExactlyOnceAcrossFailures(t *testing.T) {
	t.Run("shared", func(t *testing.T) { ingestScenario(t, "fleet", []string{"kill", "db", "kill", "none"}) })
	t.Run("plain", func(t *testing.T) { ingestScenario(t, "", []string{"broker", "kill", "db", "none"}) })
}

func ingestScenario(t *testing.T, group string, plan []string) {
	pg := pgtest.Start(t)
	br := mosquittotest.Start(t, mosquittotest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	st, err := fleet.Open(ctx, pg.DSN(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a := startIngest(t, pg.DSN(), br.URL(), "ingest-a", group)
	if group != "" {
		startIngest(t, pg.DSN(), br.URL(), "ingest-b", group)
	}
	// Subscribed before anything is published, so the count of rows does
	// not depend on whether the broker hands a shared subscription the
	// retained messages (MQTT 5 says no; mosquitto 2.0.11 does).
	time.Sleep(500 * time.Millisecond)

	pub, err := fleetsim.Connect(ctx, br.URL(), "sim", mosquittotest.AdminUser, "admin-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	const apps, devs, rounds, perRound = 10, 5, 4, 150
	now := time.Now().UTC().Truncate(time.Millisecond)
	seqs := map[string]uint64{}
	next := func(app string) uint64 { seqs[app]++; return seqs[app] }
	var first []fleet.Publication
	for i := range apps {
		app := fmt.Sprintf("site%d-cam-%d", i%3, i)
		first = append(first, fleet.StatusPub(app, next(app), 1, now, report.Status{Online: true, Firmware: "1.2.3", PolicyVersion: 7}))
		for d := range devs {
			first = append(first, fleet.DevicePub(app, next(app), now, dev(d, report.StatusUnknown)))
		}
	}
	if err := pub.SendAll(ctx, first, 50); err != nil {
		t.Fatal(err)
	}
	// Each round: events from every appliance, devices turning flagged and
	// the same state again (a reconnect's republish), and a disruption.
	disrupt := map[string]func(){
		"kill":   func() { a.signal(syscall.SIGKILL); time.Sleep(300 * time.Millisecond); a.start() },
		"broker": func() { br.Stop(); br.Restart() },
		"db": func() {
			pg.Crash()
			time.Sleep(300 * time.Millisecond)
			if err := pg.Restart(); err != nil {
				t.Error(err)
			}
		},
		"none": func() {},
	}
	events := 0
	type key struct {
		app string
		seq uint64
	}
	roundOf := map[key]int{}
	for r := range rounds {
		var ms []fleet.Publication
		for k := range perRound {
			app := fmt.Sprintf("site%d-cam-%d", k%apps%3, k%apps)
			typ := report.EvtDeviceNew
			var data map[string]any
			if k%50 == 0 {
				typ, data = report.EvtAcknowledged, map[string]any{"source": "cmd:alice", "cut_since": now.Format(time.RFC3339Nano)}
			}
			seq := next(app)
			roundOf[key{app, seq}] = r
			ms = append(ms, fleet.EventPub(app, seq, time.Now(), typ, dev(k%devs, "").MAC, data, false))
			events++
			if r == 1 && k < apps*devs {
				app := fmt.Sprintf("site%d-cam-%d", (k/devs)%3, k/devs)
				d := dev(k%devs, report.StatusFlagged)
				ms = append(ms, fleet.DevicePub(app, next(app), time.Now(), d), fleet.DevicePub(app, next(app), time.Now(), d))
			}
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pub.SendAll(ctx, ms, 20); err != nil {
				t.Error(err)
			}
		}()
		time.Sleep(100 * time.Millisecond)
		disrupt[plan[r]]()
		wg.Wait()
	}
	// A message the database cannot store (a NUL in text) is set aside,
	// and does not hold up what follows it.
	bad := fleet.DevicePub("site0-cam-0", next("site0-cam-0"), time.Now(), report.Device{MAC: "02:00:00:00:ff:ff", Model: "x\x00y"})
	if err := pub.Send(ctx, bad); err != nil {
		t.Fatal(err)
	}
	last := fleet.EventPub("site0-cam-0", next("site0-cam-0"), time.Now(), report.EvtDeviceGone, "", nil, false)
	if err := pub.Send(ctx, last); err != nil {
		t.Fatal(err)
	}
	events++

	pool := st.Pool()
	if n := waitCount(t, pool, events, 60*time.Second, `SELECT count(*) FROM events`); n != events {
		rows, _ := pool.Query(ctx, `SELECT appliance, seq FROM events`)
		for rows.Next() {
			var k key
			_ = rows.Scan(&k.app, &k.seq)
			delete(roundOf, k)
		}
		missing := map[int]int{}
		for _, r := range roundOf {
			missing[r]++
		}
		t.Errorf("events: %d rows, want %d; missing by round: %v", n, events, missing)
		for k := range roundOf {
			t.Logf("missing %s/%d", k.app, k.seq)
		}
		t.FailNow()
	}
	if n := waitCount(t, pool, 1, 10*time.Second, `SELECT count(*) FROM rejected`); n != 1 {
		t.Errorf("rejected: %d rows, want 1", n)
	}
	// Every published (appliance, seq) of an event is there once: the
	// primary key rules out twice, so count distinct against expected.
	if n := count(t, pool, `SELECT count(DISTINCT (appliance, seq)) FROM events`); n != events {
		t.Errorf("distinct events %d, want %d", n, events)
	}
	if n := count(t, pool, `SELECT count(*) FROM acknowledgements WHERE source = 'cmd:alice'`); n != rounds*perRound/50 {
		t.Errorf("acknowledgements %d, want %d", n, rounds*perRound/50)
	}
	if n := count(t, pool, `SELECT count(*) FROM devices WHERE status = 'flagged' AND maker = 'hikvision'`); n != apps*devs {
		t.Errorf("flagged devices %d, want %d", n, apps*devs)
	}
	// unknown -> flagged is one change; the republished same state is none.
	if n := count(t, pool, `SELECT count(*) FROM device_history`); n != 2*apps*devs {
		t.Errorf("history rows %d, want %d", n, 2*apps*devs)
	}
	if n := count(t, pool, `SELECT count(*) FROM appliances WHERE online AND firmware = '1.2.3' AND site LIKE 'site%'`); n != apps {
		t.Errorf("online appliances %d, want %d", n, apps)
	}
	t.Logf("stored %d events exactly once; ingest-a retried database writes %d times, went through %d broker connections",
		events, strings.Count(a.log.String(), "retrying"), 1+strings.Count(a.log.String(), "connection lost"))
}
