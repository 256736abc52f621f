package update

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
)

// Fetcher gets metadata and binaries over HTTPS with bounded, backed-off
// retries. 4xx answers are permanent; 5xx, network errors and truncated
// bodies are retried (a download resumes with Range).
type Fetcher struct {
	Client      *http.Client
	Attempts    int           // per fetch, default 6
	BackoffBase time.Duration // default 1s, doubled per failure
	BackoffMax  time.Duration // default 30s
	Sleep       func(ctx context.Context, d time.Duration) error
	Logger      *slog.Logger
}

// NewHTTPClient is an HTTPS-only client trusting roots (nil: the system
// pool). Header and idle timeouts bound a stuck server; the body's length
// is bounded by the caller, its duration by the job's context.
func NewHTTPClient(roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       60 * time.Second,
		MaxIdleConns:          2,
		// Compressed transfer would hide the byte counts Range works on.
		DisableCompression: true,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		if req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s: not https", req.URL.Scheme)
		}
		return nil
	}}
}

func (f *Fetcher) defaults() {
	if f.Client == nil {
		f.Client = NewHTTPClient(nil)
	}
	if f.Attempts <= 0 {
		f.Attempts = 6
	}
	if f.BackoffBase <= 0 {
		f.BackoffBase = time.Second
	}
	if f.BackoffMax <= 0 {
		f.BackoffMax = 30 * time.Second
	}
	if f.Sleep == nil {
		f.Sleep = sleepCtx
	}
	if f.Logger == nil {
		f.Logger = slog.Default()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *Fetcher) backoff(ctx context.Context, failures int) error {
	d := f.BackoffBase
	for i := 1; i < failures && d < f.BackoffMax; i++ {
		d *= 2
	}
	return f.Sleep(ctx, min(d, f.BackoffMax))
}

// CheckURL accepts only https URLs with a host.
func CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%q: want an https://host/path URL", raw)
	}
	return u, nil
}

// retryable marks an error worth another attempt.
type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

func (f *Fetcher) do(ctx context.Context, u string, offset int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fail(CodeBadJob, true, "%v", err)
	}
	req.Header.Set("User-Agent", "camwarden-update/1")
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		var ce *tls.CertificateVerificationError
		if errors.As(err, &ce) || (errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "redirect")) {
			return nil, fail(CodeFetch, true, "%v", err)
		}
		return nil, retryable{err}
	}
	switch {
	case resp.StatusCode >= 500:
		resp.Body.Close()
		return nil, retryable{fmt.Errorf("GET %s: %s", u, resp.Status)}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		return nil, retryable{errRangeRefused}
	case resp.StatusCode >= 400:
		resp.Body.Close()
		return nil, fail(CodeHTTP, true, "GET %s: %s", u, resp.Status)
	case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent:
		resp.Body.Close()
		return nil, fail(CodeHTTP, true, "GET %s: unexpected %s", u, resp.Status)
	}
	return resp, nil
}

var errRangeRefused = errors.New("range not satisfiable")

// Get fetches a small document of at most max bytes.
func (f *Fetcher) Get(ctx context.Context, u string, max int64) ([]byte, error) {
	f.defaults()
	var last error
	for attempt := 1; attempt <= f.Attempts; attempt++ {
		if attempt > 1 {
			if err := f.backoff(ctx, attempt-1); err != nil {
				return nil, err
			}
		}
		resp, err := f.do(ctx, u, 0)
		if err == nil {
			var b []byte
			if resp.ContentLength > max {
				resp.Body.Close()
				return nil, fail(CodeSize, true, "GET %s: %d bytes, more than %d", u, resp.ContentLength, max)
			}
			b, err = io.ReadAll(io.LimitReader(resp.Body, max+1))
			resp.Body.Close()
			if err == nil && int64(len(b)) > max {
				return nil, fail(CodeSize, true, "GET %s: more than %d bytes", u, max)
			}
			if err == nil {
				return b, nil
			}
			err = retryable{err}
		}
		if !errors.As(err, new(retryable)) {
			return nil, err
		}
		last = err
		f.Logger.Warn("update: fetch failed, retrying", "url", u, "attempt", attempt, "err", err)
	}
	return nil, fail(CodeFetch, false, "GET %s: %d attempts: %v", u, f.Attempts, last)
}

// partMeta is download.json: which target download.part belongs to.
type partMeta struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Download fetches u into part, resuming a partial file left by an earlier
// attempt or process when it belongs to the same target. It never writes
// more than size bytes, hashes while streaming, and returns only when part
// holds exactly size bytes hashing to sha. progress is called as bytes
// arrive; hit is the test fault hook (may be nil).
func (f *Fetcher) Download(ctx context.Context, u, part string, size int64, sha string,
	progress func(done, total int64), hit func(Step) error) error {
	f.defaults()
	if hit == nil {
		hit = func(Step) error { return nil }
	}
	metaPath := part + ".meta"
	want := partMeta{SHA256: sha, Size: size}
	var have partMeta
	if b, err := os.ReadFile(metaPath); err != nil || json.Unmarshal(b, &have) != nil || have != want {
		_ = os.Remove(part)
		b, _ := json.Marshal(want)
		// The record of what download.part belongs to must reach the disk
		// before any of the part does: after a power cut a part whose record
		// was lost is thrown away, and the download starts again from zero
		// (seen in the VM: the part's first 4 MiB fsync survived, the
		// unsynced record did not).
		if err := atomicfile.WriteFile(metaPath, b, 0o644); err != nil {
			return fail(CodeInstall, false, "download: %v", err)
		}
	}
	file, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fail(CodeInstall, false, "download: %v", err)
	}
	defer file.Close()
	discard := func() {
		file.Close()
		os.Remove(part)
		os.Remove(metaPath)
	}

	var last error
	for attempt := 1; ; attempt++ {
		offset, h, err := resumeState(file, size)
		if err != nil {
			return fail(CodeInstall, false, "download: %v", err)
		}
		if offset == size {
			break
		}
		if attempt > f.Attempts {
			return fail(CodeFetch, false, "GET %s: %d attempts, %d of %d bytes: %v", u, f.Attempts, offset, size, last)
		}
		if attempt > 1 {
			if err := f.backoff(ctx, attempt-1); err != nil {
				return err
			}
		}
		err = f.fetchRange(ctx, u, file, offset, size, h, progress, hit)
		if err == nil {
			continue
		}
		var e *Error
		if errors.As(err, &e) && e.Code == CodeSize {
			discard()
			return err
		}
		if errors.Is(err, errRangeRefused) {
			// Our partial file does not fit the server's: start over.
			if terr := file.Truncate(0); terr != nil {
				return fail(CodeInstall, false, "download: %v", terr)
			}
		}
		if !errors.As(err, new(retryable)) {
			return err
		}
		last = err
		f.Logger.Warn("update: download interrupted, resuming", "url", u, "attempt", attempt, "err", err)
	}
	if err := hit(StepVerify); err != nil {
		return err
	}
	// The streaming hash covered every byte as it arrived, but a resumed
	// prefix came from disk: hash the whole file once, from disk, which is
	// what will be installed.
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return fail(CodeInstall, false, "download: %v", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return fail(CodeInstall, false, "download: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		discard()
		return fail(CodeHash, true, "binary from %s has sha256 %s, release says %s", u, got, sha)
	}
	if err := file.Sync(); err != nil {
		return fail(CodeInstall, false, "download: %v", err)
	}
	return nil
}

// resumeState returns how much of the target file holds and the hash of
// those bytes; a file longer than size is truncated.
func resumeState(file *os.File, size int64) (int64, hash.Hash, error) {
	st, err := file.Stat()
	if err != nil {
		return 0, nil, err
	}
	n := st.Size()
	if n > size {
		if err := file.Truncate(0); err != nil {
			return 0, nil, err
		}
		n = 0
	}
	h := sha256.New()
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return 0, nil, err
	}
	if _, err := io.CopyN(h, file, n); err != nil {
		return 0, nil, err
	}
	return n, h, nil
}

func (f *Fetcher) fetchRange(ctx context.Context, u string, file *os.File, offset, size int64, h hash.Hash,
	progress func(done, total int64), hit func(Step) error) error {
	resp, err := f.do(ctx, u, offset)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if offset > 0 {
		if resp.StatusCode == http.StatusOK {
			// The server ignored Range: take the whole body from the start.
			offset = 0
			h.Reset()
		} else if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != offset {
			return retryable{fmt.Errorf("GET %s: Content-Range %q for offset %d", u, resp.Header.Get("Content-Range"), offset)}
		}
	}
	if err := file.Truncate(offset); err != nil {
		return fail(CodeInstall, false, "download: %v", err)
	}
	if _, err := file.Seek(offset, io.SeekStart); err != nil {
		return fail(CodeInstall, false, "download: %v", err)
	}
	remaining := size - offset
	if resp.ContentLength > remaining {
		return fail(CodeSize, true, "GET %s: server sends %d bytes from offset %d, release declares %d in all", u, resp.ContentLength, offset, size)
	}
	w := &progressWriter{w: io.MultiWriter(&syncingWriter{f: file}, h), done: offset, total: size, f: progress}
	// One byte beyond what the release declares is enough to know the
	// server is sending endless data.
	body := io.LimitReader(resp.Body, remaining+1)
	first := remaining / 2
	n1, err := io.CopyN(w, body, first)
	if err == nil {
		if herr := hit(StepDownload); herr != nil {
			return herr
		}
		var n2 int64
		n2, err = io.Copy(w, body)
		n1 += n2
	}
	if n1 > remaining {
		return fail(CodeSize, true, "GET %s: server sent more than the declared %d bytes", u, size)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return retryable{fmt.Errorf("GET %s: body after %d bytes: %w", u, offset+n1, err)}
	}
	if n1 < remaining {
		return retryable{fmt.Errorf("GET %s: body ended at %d of %d bytes", u, offset+n1, size)}
	}
	return nil
}

func contentRangeStart(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	f           func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.f != nil {
		p.f(p.done, p.total)
	}
	return n, err
}

// SyncEvery is how much of a download may sit unsynced in the page cache.
// A power cut loses what was not synced (the kernel writes dirty pages back
// only after ~30 s), and a resume can only start from what is on disk; one
// fsync per 4 MiB costs the flash nothing next to the download itself.
const SyncEvery = 4 << 20

type syncingWriter struct {
	f       *os.File
	pending int64
}

func (s *syncingWriter) Write(b []byte) (int, error) {
	n, err := s.f.Write(b)
	s.pending += int64(n)
	if err == nil && s.pending >= SyncEvery {
		s.pending = 0
		if serr := s.f.Sync(); serr != nil {
			return n, serr
		}
	}
	return n, err
}
