package update

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/sign/signtest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeTrust is a fixed key set and trusted time.
type fakeTrust struct {
	ks  *sign.KeySet
	now time.Time
}

func (f *fakeTrust) KeySet() *sign.KeySet { return f.ks }
func (f *fakeTrust) Now() time.Time       { return f.now }

// sink collects statuses.
type sink struct {
	mu sync.Mutex
	s  []Status
}

func (k *sink) report(s Status) { k.mu.Lock(); k.s = append(k.s, s); k.mu.Unlock() }

func (k *sink) states() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, s := range k.s {
		if len(out) > 0 && out[len(out)-1] == s.State {
			continue
		}
		out = append(out, s.State)
	}
	return out
}

func (k *sink) last() Status {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.s) == 0 {
		return Status{}
	}
	return k.s[len(k.s)-1]
}

// repoServer serves a release repository over TLS with switchable
// misbehaviour, counting requests.
type repoServer struct {
	t    *testing.T
	dir  string
	srv  *httptest.Server
	pool *x509.CertPool

	mu       sync.Mutex
	requests []string // "path range"
	// cutOnce closes the connection after this many body bytes of the
	// first binary download.
	cutOnce int
	// extra bytes appended to a binary (endless data).
	extra int
	// tamper flips a byte of every binary served.
	tamper bool
	// fail503 answers this many requests with 503 first.
	fail503 int
}

func newRepoServer(t *testing.T) *repoServer {
	rs := &repoServer{t: t, dir: t.TempDir()}
	files := http.FileServer(http.Dir(rs.dir))
	rs.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.requests = append(rs.requests, r.URL.Path+" "+r.Header.Get("Range"))
		cut, extra, tamper := 0, rs.extra, rs.tamper
		if rs.fail503 > 0 {
			rs.fail503--
			rs.mu.Unlock()
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/targets/") && rs.cutOnce > 0 {
			cut, rs.cutOnce = rs.cutOnce, 0
		}
		rs.mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, "/targets/") || (cut == 0 && extra == 0 && !tamper) {
			files.ServeHTTP(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(rs.dir, filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if tamper {
			b[len(b)/3] ^= 0xff
		}
		b = append(b, make([]byte, extra)...)
		if cut > 0 {
			// Promise the whole file, send part of it, drop the connection.
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.WriteHeader(http.StatusOK)
			w.Write(b[:cut])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Write(b) // no Content-Length: chunked, so only the count betrays it
	}))
	t.Cleanup(rs.srv.Close)
	rs.pool = x509.NewCertPool()
	rs.pool.AddCert(rs.srv.Certificate())
	return rs
}

func (rs *repoServer) reqs() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.requests...)
}

// fixture is an authority, a repository server and an appliance state dir.
type fixture struct {
	t     *testing.T
	auth  *signtest.Authority
	trust *fakeTrust
	repo  *repoServer
	dir   string
	sink  *sink
	bins  map[string][]byte // version -> binary
}

func newFixture(t *testing.T) *fixture {
	a := signtest.New(t, t0)
	return &fixture{t: t, auth: a, trust: &fakeTrust{ks: a.KeySet, now: t0}, repo: newRepoServer(t),
		dir: t.TempDir(), sink: &sink{}, bins: map[string][]byte{}}
}

// binary makes a distinct fake firmware image for version.
func (f *fixture) binary(version string, size int) string {
	b := make([]byte, size)
	rand.Read(b)
	copy(b, "#!fake "+version+"\n")
	f.bins[version] = b
	p := filepath.Join(f.t.TempDir(), "camwarden-"+version)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func sha(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// release writes version (a fresh binary unless path is given) to the
// repository, issued at issued.
func (f *fixture) release(version string, epoch uint64, issued time.Time, arch string, key sign.PrivateKey) *Release {
	f.t.Helper()
	p := f.binary(version, 64<<10+int(epoch)*7)
	r, err := WriteRelease(f.repo.dir, key, Spec{Version: version, SecurityEpoch: epoch, IssuedAt: issued,
		Expires: issued.Add(30 * 24 * time.Hour), Binaries: map[string]string{arch: p}})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) fwKey() sign.PrivateKey { return f.auth.Keys[sign.RoleFirmware] }

func (f *fixture) job(version string) Job {
	return Job{Version: version, Repository: f.repo.srv.URL + "/"}
}

func (f *fixture) updater(fault func(Step) error) *Updater {
	f.t.Helper()
	u, err := New(Options{Dir: f.dir, Arch: "arm64", Trust: f.trust, Report: f.sink.report,
		Fetcher: &Fetcher{Client: NewHTTPClient(f.repo.pool), Attempts: 4,
			Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }},
		BrokerUp: func() bool { return true }, TrialTimeout: 200 * time.Millisecond, GateInterval: 10 * time.Millisecond,
		Now: func() time.Time { return f.trust.now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.t.Fatal(err)
	}
	u.store.fault = fault
	return u
}

func pass(context.Context, Trial) error { return nil }

// installCommit runs a job to commit with no faults: install, boot into the
// trial, gate passes.
func (f *fixture) installCommit(version string) {
	f.t.Helper()
	ctx := context.Background()
	if err := f.updater(nil).Install(ctx, f.job(version)); err != nil {
		f.t.Fatalf("install %s: %v", version, err)
	}
	d, err := BootWith(BootOptions{Dir: f.dir})
	if err != nil || !d.Trial || d.Version != version {
		f.t.Fatalf("boot after install %s: %+v %v", version, d, err)
	}
	if err := f.updater(nil).RunTrial(ctx, d, pass); err != nil {
		f.t.Fatalf("trial %s: %v", version, err)
	}
	st := f.state()
	if st.ActiveVersion() != version || st.Trial != nil {
		f.t.Fatalf("after commit of %s: %+v", version, st)
	}
}

func (f *fixture) state() State {
	f.t.Helper()
	s, _ := OpenStore(f.dir)
	st, err := s.Load()
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}
