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

// TestAppGlue drives firmware/app's OTAManager: job -> install -> restart
// asked; then, started on trial, a gate whose broker check fails (it was
// up at install) rolls back, all reported on ota/status.
func TestAppGlue(t *testing.T) {
	a := signtest.New(t, time.Now())
	repo := t.TempDir()
	bin := filepath.Join(t.TempDir(), "fw")
	os.WriteFile(bin, []byte("new firmware"), 0o755)
	if _, err := update.WriteRelease(repo, a.Keys[sign.RoleFirmware], update.Spec{Version: "2.0", SecurityEpoch: 1,
		IssuedAt: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour), Binaries: map[string]string{update.HostArch(): bin}}); err != nil {
		t.Fatal(err)
	}
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
