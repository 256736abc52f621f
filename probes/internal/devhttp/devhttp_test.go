package devhttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// What the client is for, against net/http's own servers: a redirect is
// handed back, not followed; a self-signed TLS device is read; an endless
// header and a device that never answers end at their bounds.
func TestClientBounds(t *testing.T) {
	followed := false
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed = true }))
	defer elsewhere.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusFound)
	}))
	defer redirect.Close()
	tlsDev := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "self-signed")
	}))
	defer tlsDev.Close()
	bigHeader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pad", strings.Repeat("x", 2*MaxHeaderBytes))
	}))
	defer bigHeader.Close()
	release := make(chan struct{})
	stalls := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer stalls.Close()
	defer close(release)

	c := NewClient(300*time.Millisecond, 1)
	// net/http never proxies loopback, so a test server cannot show an
	// environment proxy being ignored; the transport must not ask for one.
	if c.Transport.(*http.Transport).Proxy != nil {
		t.Error("the client consults a proxy")
	}
	resp, err := c.Get(redirect.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || followed {
		t.Errorf("redirect: status %d, followed %v", resp.StatusCode, followed)
	}
	resp, err = c.Get(tlsDev.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "self-signed" {
		t.Errorf("TLS body %q", b)
	}
	if resp, err := c.Get(bigHeader.URL); err == nil {
		resp.Body.Close()
		t.Error("an oversized header read")
	}
	start := time.Now()
	if resp, err := c.Get(stalls.URL); err == nil {
		resp.Body.Close()
		t.Error("a stalled device answered")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a stalled device held the client %v", d)
	}
}

// Do stops reading at the bound and says there was more.
func TestDoBoundsBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Chunked, so no length warns the client.
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, strings.Repeat("b", 1<<20))
	}))
	defer srv.Close()
	exact := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "0123456789")
	}))
	defer exact.Close()
	c := NewClient(time.Second, 1)
	for _, tc := range []struct {
		url  string
		max  int64
		body string
		over bool
	}{
		{exact.URL, 10, "0123456789", false},
		{exact.URL, 4, "0123", true},
		{srv.URL, 10, "bbbbbbbbbb", true},
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		resp, body, over, err := Do(c, req, tc.max)
		if err != nil || resp.StatusCode != http.StatusOK || string(body) != tc.body || over != tc.over {
			t.Errorf("%s max %d: %q over=%v err=%v", tc.url, tc.max, body, over, err)
		}
	}
}
