package update_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/app"
	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/sign/signtest"
	"github.com/camwarden/camwarden/ota/update"
)

type pubSink struct {
	mu  sync.Mutex
	msg []app.OTAStatusPayload
}

func (p *pubSink) Publish(topic string, b []byte, retained bool) error {
	if topic != update.TopicStatus || !retained {
		return errors.New("wrong topic or not retained: " + topic)
	}
	var s app.OTAStatusPayload
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p.mu.Lock()
	p.msg = append(p.msg, s)
	p.mu.Unlock()
	return nil
}

func (p *pubSink) NewHeader(schema string) mqtt.Header {
	return mqtt.Header{Schema: schema, Appliance: "app1"}
}

func (p *pubSink) states() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.msg {
		if len(out) == 0 || out[len(out)-1] != m.State {
			out = append(out, m.State)
		}
	}
	return out
}

type trust struct{ ks *sign.KeySet }

func (t trust) KeySet() *sign.KeySet { return t.ks }
func (t trust) Now() time.Time       { return time.Now() }

// release20 is an authority and a repository holding its release 2.0 for
// this machine.
func release20(t *testing.T) (*signtest.Authority, string) {
	t.Helper()
	a := signtest.New(t, time.Now())
	repo := t.TempDir()
	bin := filepath.Join(t.TempDir(), "fw")
	if err := os.WriteFile(bin, []byte("new firmware"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := update.WriteRelease(repo, a.Keys[sign.RoleFirmware], update.Spec{Version: "2.0", SecurityEpoch: 1,
		IssuedAt: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour), Binaries: map[string]string{update.HostArch(): bin}}); err != nil {
		t.Fatal(err)
	}
	return a, repo
}

// TestAppGlue drives firmware/app's OTAManager: job -> install -> restart
// asked; then, started on trial, a gate whose broker check fails (it was
// up at install) rolls back, all reported on ota/status.
func TestAppGlue(t *testing.T) {
	a, repo := release20(t)
	srv := httptest.NewTLSServer(http.FileServer(http.Dir(repo)))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	dir := t.TempDir()
	pub := &pubSink{}
	restarts := make(chan struct{}, 4)
	brokerUp := true
	opts := app.OTAOptions{Dir: dir, ApplianceID: "app1", Trust: trust{a.KeySet}, RootCAs: pool, Publisher: pub,
		Restart: func() { restarts <- struct{}{} }, TrialTimeout: 300 * time.Millisecond,
		Health: app.OTAHealth{Broker: func() bool { return brokerUp }}, Logger: slog.New(slog.DiscardHandler)}
	m, err := app.NewOTAManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	m.Handle("camwarden/v1/fleet/ota/job", []byte(`{"version":"2.0","repository":"`+srv.URL+`"}`))
	select {
	case <-restarts:
	case <-ctx.Done():
		t.Fatalf("no restart after install; statuses %v", pub.states())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The relaunch: Boot says trial; the broker is down now.
	d, err := update.Boot(dir)
	if err != nil || !d.Trial {
		t.Fatalf("boot %+v %v", d, err)
	}
	brokerUp = false
	opts.Decision = d
	m, err = app.NewOTAManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	<-restarts
	pub.mu.Lock()
	last := pub.msg[len(pub.msg)-1]
	pub.mu.Unlock()
	if last.State != update.StateRolledBack || last.Code != update.CodeGate || last.Schema != update.SchemaStatus {
		t.Fatalf("last status %+v; states %v", last, pub.states())
	}
	want := []string{"idle", "queued", "downloading", "verifying", "installed", "trial", "rolled_back"}
	if got := pub.states(); !slices.Equal(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
}

// TestAppGlueRetriesFailedJob: a repository that is down when the job
// arrives. The failure is published with the time of the next try, the job
// is tried again on its own and installs once the repository is back; a
// repository that stays down is tried only as often as the backoff says,
// and a permanent refusal (404) not again at all.
func TestAppGlueRetriesFailedJob(t *testing.T) {
	a, repo := release20(t)
	var mu sync.Mutex
	down, requests := 0, 0 // down: how many more requests get 503; -1 forever
	files := http.FileServer(http.Dir(repo))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		fail := down != 0
		if down > 0 {
			down--
		}
		mu.Unlock()
		if fail {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	count := func() int { mu.Lock(); defer mu.Unlock(); return requests }

	run := func(t *testing.T, job string, backoff []time.Duration) (*pubSink, chan struct{}, context.CancelFunc, chan error) {
		pub := &pubSink{}
		restarts := make(chan struct{}, 4)
		m, err := app.NewOTAManager(app.OTAOptions{Dir: t.TempDir(), ApplianceID: "app1", Trust: trust{a.KeySet},
			Publisher: pub, Restart: func() { restarts <- struct{}{} }, Logger: slog.New(slog.DiscardHandler),
			RetryBackoff: backoff,
			Fetcher: &update.Fetcher{Client: update.NewHTTPClient(pool), Attempts: 2, BackoffBase: time.Millisecond,
				Logger: slog.New(slog.DiscardHandler)}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		m.Handle("camwarden/v1/app1/ota/job", []byte(job))
		return pub, restarts, cancel, done
	}
	job := `{"version":"2.0","repository":"` + srv.URL + `"}`

	t.Run("recovers", func(t *testing.T) {
		mu.Lock()
		down, requests = 2, 0 // both attempts of the first metadata fetch
		mu.Unlock()
		pub, restarts, cancel, done := run(t, job, []time.Duration{300 * time.Millisecond})
		defer cancel()
		select {
		case <-restarts:
		case <-time.After(8 * time.Second):
			t.Fatalf("no install after the repository came back; states %v", pub.states())
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var failed *app.OTAStatusPayload
		pub.mu.Lock()
		for i := range pub.msg {
			if pub.msg[i].State == update.StateFailed && !pub.msg[i].RetryAt.IsZero() {
				failed = &pub.msg[i]
			}
		}
		pub.mu.Unlock()
		if failed == nil || failed.Code != update.CodeFetch {
			t.Fatalf("no fetch failure with retry_at published; states %v", pub.states())
		}
		want := []string{"idle", "queued", "failed", "queued", "downloading", "verifying", "installed"}
		if got := pub.states(); !slices.Equal(got, want) {
			t.Fatalf("states %v, want %v", got, want)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		mu.Lock()
		down, requests = -1, 0
		mu.Unlock()
		_, _, cancel, done := run(t, job, []time.Duration{20 * time.Millisecond, 20 * time.Millisecond})
		defer cancel()
		// 3 tries (the job, 2 retries) of 2 attempts each, then silence.
		deadline := time.Now().Add(5 * time.Second)
		for count() < 6 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		if n := count(); n != 6 {
			t.Fatalf("%d requests to a repository that stays down, want 6", n)
		}
		cancel()
		<-done
	})

	t.Run("permanent", func(t *testing.T) {
		mu.Lock()
		down, requests = 0, 0
		mu.Unlock()
		pub, _, cancel, done := run(t, `{"version":"2.0","repository":"`+srv.URL+`/nowhere"}`, []time.Duration{20 * time.Millisecond})
		defer cancel()
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Contains(pub.states(), update.StateFailed) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		if n := count(); n != 1 {
			t.Fatalf("%d requests after a 404, want 1 (states %v)", n, pub.states())
		}
		cancel()
		<-done
	})
}
