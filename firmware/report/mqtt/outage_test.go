package mqtt

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
)

func TestBurstAcrossBrokerRestart(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app-b": "pwb"}})
	topic := "camwarden/v1/app-b/evt/burst"
	// A persistent session: the broker queues for the subscriber while it
	// reconnects after the restart.
	col := newCollector(t, b, topic, "colb", false)
	c := dial(t, applianceOpts(t, b, "app-b", ""))
	waitUp(t, c)
	const n = 1000
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.Event(context.Background(), report.Event{Type: "burst", Data: map[string]any{"i": i}}); err != nil {
				errc <- err
				return
			}
			if i == 300 {
				b.Stop()
			}
			if i == 600 {
				b.Restart()
			}
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ms := col.waitFor(20*time.Second, "1000 events", func(ms []msg) bool { return distinct(ms, topic) >= n })
	dups, hist := checkBurst(t, ms, topic, n)
	t.Logf("%d duplicates, %d historical", dups, hist)
	if hist == 0 {
		t.Fatal("events queued during the outage were not marked historical")
	}
	waitQueue(t, c, 0)
}

func TestReplayAfterRestartIsHistoricalAndDropsAreReported(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app-r": "pwr"}})
	b.Stop()
	dir := t.TempDir()
	o := applianceOpts(t, b, "app-r", dir)
	o.OutboxMaxEvents = 50
	c := dial(t, o)
	ctx := context.Background()
	var seqs []time.Time
	for i := range 80 {
		ts := time.Now().Add(-time.Hour + time.Duration(i)*time.Second).UTC().Truncate(time.Millisecond)
		seqs = append(seqs, ts)
		if err := c.Event(ctx, report.Event{Type: "burst", Time: ts, Data: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	if q, d := c.QueueLen(); q != 50 || d != 30 {
		t.Fatalf("queue %d dropped %d, want 50 and 30", q, d)
	}
	c.Close()

	b.Restart()
	col := newCollector(t, b, "camwarden/v1/app-r/evt/#", "colr", true)
	c = dial(t, o)
	ms := col.waitFor(10*time.Second, "replay and drop report", func(ms []msg) bool { return len(ms) >= 51 })
	for k, m := range ms[:50] {
		ev, err := DecodeEvent(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		i := 30 + k // the 30 oldest were dropped
		if int(ev.Data["i"].(float64)) != i || !ev.TS.Equal(seqs[i]) || !ev.Historical {
			t.Fatalf("replayed #%d: %s", k, m.Payload)
		}
	}
	m := ms[50]
	ev, err := DecodeEvent(m.Payload)
	if err != nil || m.Topic != "camwarden/v1/app-r/evt/"+EvtOutboxDropped || ev.Data["dropped"] != float64(30) {
		t.Fatalf("drop report %v: %s %s", err, m.Topic, m.Payload)
	}
	waitQueue(t, c, 0)
	if _, d := c.QueueLen(); d != 0 {
		t.Fatalf("dropped counter not reset: %d", d)
	}
}

func TestDeviceStateRepublishedAndSubscriptionsRenewedAfterReconnect(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app-p": "pwp"}})
	c := dial(t, applianceOpts(t, b, "app-p", ""))
	waitUp(t, c)
	got := make(chan string, 10)
	if err := c.Subscribe("policy", func(topic string, payload []byte) { got <- string(payload) }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Known while the link is up; then the broker loses everything (kill,
	// fresh persistence is not saved on SIGKILL).
	if err := c.Device(ctx, report.Device{MAC: "aa:bb:cc:00:00:02", Maker: "dahua"}); err != nil {
		t.Fatal(err)
	}
	first := c.Session()
	time.Sleep(1500 * time.Millisecond) // let autosave pass, then wipe state by kill + restart
	b.Kill()
	if err := c.Device(ctx, report.Device{MAC: "aa:bb:cc:00:00:03", Maker: "zte"}); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	waitUp(t, c)
	if c.Session() <= first {
		t.Fatalf("session did not increase: %d then %d", first, c.Session())
	}
	col := newCollector(t, b, "camwarden/v1/app-p/devices/#", "colp", true)
	col.waitFor(5*time.Second, "both devices retained", func(ms []msg) bool { return len(ms) >= 2 })

	admin := newCollector(t, b, "camwarden/v1/none", "adminpub", true)
	deadline := time.Now().Add(5 * time.Second)
	for {
		admin.pc.Publish("camwarden/v1/app-p/policy", 1, false, "signed-policy").Wait()
		select {
		case p := <-got:
			if p != "signed-policy" {
				t.Fatalf("handler got %q", p)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("subscription not renewed after reconnect")
		}
	}
}

func TestACLDenialObservedBySubscriber(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app-a": "pwa", "app-x": "pwx"}})
	col := newCollector(t, b, "camwarden/v1/#", "cola", true)
	// app-x logs in as itself but claims app-a's tree: the ACL pattern
	// camwarden/v1/%u/# denies every publish, and MQTT 3.1.1 still acks them.
	o := applianceOpts(t, b, "app-a", "")
	o.Username, o.Password = "app-x", "pwx"
	spoof := dial(t, o)
	waitUp(t, spoof)
	ctx := context.Background()
	if err := spoof.Event(ctx, report.Event{Type: "device_new", Data: map[string]any{"spoof": true}}); err != nil {
		t.Fatal(err)
	}
	waitQueue(t, spoof, 0) // acknowledged (and dropped) by the broker
	honest := dial(t, applianceOpts(t, b, "app-x", ""))
	waitUp(t, honest)
	if err := honest.Event(ctx, report.Event{Type: "device_new"}); err != nil {
		t.Fatal(err)
	}
	ms := col.waitFor(5*time.Second, "honest event", func(ms []msg) bool {
		_, ok := lastOn(ms, "camwarden/v1/app-x/evt/device_new")
		return ok
	})
	for _, m := range ms {
		if m.Topic[:len("camwarden/v1/app-a/")] == "camwarden/v1/app-a/" {
			t.Fatalf("ACL let through %s: %s", m.Topic, m.Payload)
		}
	}
}

func TestTLSAndLoginErrors(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app-t": "pwt"}})
	ctx := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		return c
	}
	base := func() Options { return applianceOpts(t, b, "app-t", "") }

	t.Run("tls ok", func(t *testing.T) {
		o := base()
		o.Broker, o.CAFile = b.TLSURL(), b.CAFile
		c := dial(t, o)
		if err := c.WaitConnected(ctx()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("mutual tls ok", func(t *testing.T) {
		o := base()
		o.Broker, o.CAFile, o.Username, o.Password = b.MTLSURL(), b.CAFile, "", ""
		o.CertFile, o.KeyFile = b.ClientCert("app-t")
		c := dial(t, o)
		if err := c.WaitConnected(ctx()); err != nil {
			t.Fatal(err)
		}
	})
	var mu sync.Mutex
	check := func(t *testing.T, o Options, want error, mention string) {
		mu.Lock()
		defer mu.Unlock()
		c := dial(t, o)
		err := c.WaitConnected(ctx())
		if !errors.Is(err, want) {
			t.Fatalf("got %v, want %v", err, want)
		}
		if !strings.Contains(err.Error(), mention) || strings.Contains(err.Error(), o.Password+"\"") && o.Password != "" {
			t.Fatalf("error %q should mention %q and never the password", err, mention)
		}
		t.Logf("%v", err)
	}
	t.Run("wrong CA", func(t *testing.T) {
		o := base()
		o.Broker, o.CAFile = b.TLSURL(), b.UntrustedCA()
		check(t, o, ErrBrokerUntrusted, o.CAFile)
	})
	t.Run("missing client cert", func(t *testing.T) {
		o := base()
		o.Broker, o.CAFile = b.MTLSURL(), b.CAFile
		check(t, o, ErrClientCertRefused, "no client certificate configured")
	})
	t.Run("bad password", func(t *testing.T) {
		o := base()
		o.Password = "wrong"
		check(t, o, ErrLoginRefused, `user "app-t"`)
	})
	t.Run("unusable CA file", func(t *testing.T) {
		o := base()
		o.Broker, o.CAFile = b.TLSURL(), b.Dir+"/passwd"
		_, err := Dial(o)
		if !errors.Is(err, ErrBadCA) || !strings.Contains(err.Error(), "passwd") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestOutboxAgeBound(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ob, err := openOutbox(t.TempDir()+"/o.db", 1000, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.close()
	for i := range 10 {
		_, done, err := ob.append(report.Event{Type: "x", Time: now.Add(time.Duration(i) * 10 * time.Minute)}, 1, 0)
		if err != nil || <-done != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Hour) // events at +0..+50m are now older than an hour, +60..+90m are not
	mu.Unlock()
	if err := ob.prune(); err != nil {
		t.Fatal(err)
	}
	if q, d := ob.stats(); q != 4 || d != 6 {
		t.Fatalf("after ageing: %d queued, %d dropped; want 4 and 6", q, d)
	}
	recs, _ := ob.peek(0, 100)
	if len(recs) != 4 || !recs[0].Event.Time.Equal(time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("left %d records starting %v", len(recs), recs[0].Event.Time)
	}
}

func TestOutboxSeqSurvivesReopen(t *testing.T) {
	t.Parallel()
	p := t.TempDir() + "/o.db"
	var last uint64
	for round := range 3 {
		ob, err := openOutbox(p, 1000, time.Hour, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			s, err := ob.nextSeq()
			if err != nil || s <= last {
				t.Fatalf("round %d: seq %d after %d (%v)", round, s, last, err)
			}
			last = s
		}
		r, done, _ := ob.append(report.Event{Type: "x", Time: time.Now()}, 1, 0)
		if <-done != nil || r.Seq <= last {
			t.Fatalf("event seq %d after %d", r.Seq, last)
		}
		last = r.Seq
		s1, _ := ob.nextSession()
		ob.close()
		ob, _ = openOutbox(p, 1000, time.Hour, time.Now)
		if s2, _ := ob.nextSession(); s2 != s1+1 {
			t.Fatalf("session %d then %d", s1, s2)
		}
		ob.close()
	}
}

func TestOutboxConcurrentWritersKeepSeqOrder(t *testing.T) {
	t.Parallel()
	ob, err := openOutbox(t.TempDir()+"/o.db", 100000, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.close()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				_, done, err := ob.append(report.Event{Type: "x", Time: time.Now(), Data: map[string]any{"w": w, "i": i}}, 1, 0)
				if err != nil || <-done != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recs, _ := ob.peek(0, 1000)
	if len(recs) != 400 {
		t.Fatalf("%d records", len(recs))
	}
	perWriter := map[float64]float64{}
	for k, r := range recs {
		if k > 0 && r.Seq <= recs[k-1].Seq {
			t.Fatal("seq not increasing")
		}
		w, i := r.Event.Data["w"].(float64), r.Event.Data["i"].(float64)
		if prev, ok := perWriter[w]; ok && i != prev+1 {
			t.Fatalf("writer %v: %v after %v", w, i, prev)
		}
		perWriter[w] = i
	}
}
