package httpprobe_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	httpprobe "github.com/camwarden/camwarden/probes/http"
	"github.com/camwarden/camwarden/probes/probetest"
)

// rawServer answers every connection with fn after reading the request
// head; it counts the paths asked for.
type rawServer struct {
	portN int
	paths chan string
	n     atomic.Int32
}

func newRawServer(t *testing.T, fn func(path string, c net.Conn)) *rawServer {
	t.Helper()
	s := &rawServer{paths: make(chan string, 64)}
	s.portN = probetest.ServeTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		line, _ := br.ReadString('\n')
		f := strings.Fields(line)
		path := ""
		if len(f) > 1 {
			path = f[1]
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil || strings.TrimSpace(l) == "" {
				break
			}
		}
		s.n.Add(1)
		select {
		case s.paths <- path:
		default:
		}
		fn(path, c)
	})
	return s
}

func (s *rawServer) port() int { return s.portN }

func probeRaw(t *testing.T, s *rawServer, timeout time.Duration) (*collector, error) {
	t.Helper()
	var c collector
	p := &httpprobe.Prober{Port: s.port(), Timeout: timeout, Paths: []string{"/ISAPI/System/deviceInfo"}}
	err := p.Probe(context.Background(), probes.Target{IP: loopback}, c.sink)
	return &c, err
}

func TestProbeSlowServerHitsDeadline(t *testing.T) {
	s := newRawServer(t, func(path string, c net.Conn) { time.Sleep(5 * time.Second) })
	start := time.Now()
	c, err := probeRaw(t, s, 200*time.Millisecond)
	if err == nil {
		t.Fatal("want a timeout error")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("probe took %v, per-request timeout 200ms", d)
	}
	if len(c.obs) != 0 {
		t.Errorf("emitted %v", c.obs)
	}
}

func TestProbeContextCancelStopsRead(t *testing.T) {
	s := newRawServer(t, func(path string, c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nServer: slow\r\n")
		time.Sleep(5 * time.Second)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := (&httpprobe.Prober{Port: s.port(), Timeout: time.Minute}).Probe(ctx, probes.Target{IP: loopback}, func(probes.Observation) {})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v; want an error soon after ctx ends", err, time.Since(start))
	}
}

func TestProbeTruncatedHead(t *testing.T) {
	s := newRawServer(t, func(path string, c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Le")
	})
	_, err := probeRaw(t, s, time.Second)
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want EOF", err)
	}
}

func TestProbeOversizedHead(t *testing.T) {
	s := newRawServer(t, func(path string, c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		long := "X-Junk: " + strings.Repeat("a", 1000) + "\r\n"
		for range 1000 { // 1 MB of header lines
			if _, err := io.WriteString(c, long); err != nil {
				return
			}
		}
	})
	_, err := probeRaw(t, s, time.Second)
	if !errors.Is(err, httpprobe.ErrHeadTooLarge) {
		t.Fatalf("err = %v, want ErrHeadTooLarge", err)
	}
}

func TestProbeGarbage(t *testing.T) {
	s := newRawServer(t, func(path string, c net.Conn) {
		c.Write([]byte("\x00\x00\x00\x10\xde\xad\xbe\xef garbage\r\n\r\n"))
	})
	_, err := probeRaw(t, s, time.Second)
	if !errors.Is(err, httpprobe.ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

// TestProbeEndlessBody: a body that never ends is cut at MaxBody and the
// head's facts still arrive.
func TestProbeEndlessBody(t *testing.T) {
	s := newRawServer(t, func(path string, c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nServer: endless\r\n\r\n<html><head>")
		chunk := []byte(strings.Repeat("x", 4096))
		for range 4096 { // 16 MiB unless the reader stops
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	start := time.Now()
	c, err := probeRaw(t, s, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.one(t, "http", "http.server"); got != "endless" {
		t.Errorf("server = %q", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestProbeRedirectElsewhereNotFollowed: a Location on another host is
// reported but never requested.
func TestProbeRedirectElsewhereNotFollowed(t *testing.T) {
	s := newRawServer(t, func(path string, c net.Conn) {
		if path == "/" {
			io.WriteString(c, "HTTP/1.1 302 Found\r\nLocation: http://198.18.9.9/login\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.0 404 Not Found\r\n\r\n")
	})
	c, err := probeRaw(t, s, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.one(t, "http", "http.redirect"); got != "http://198.18.9.9/login" {
		t.Errorf("redirect = %q", got)
	}
	close(s.paths)
	var paths []string
	for p := range s.paths {
		if strings.HasPrefix(p, "/cw-") {
			p = "/cw-<random>" // the baseline path is new every time
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	if want := []string{"/", "/ISAPI/System/deviceInfo", "/cw-<random>", "/favicon.ico"}; !slices.Equal(paths, want) {
		t.Errorf("asked %q, want %q", paths, want)
	}
}

// TestProbeRedirectLoopFollowedOnce: a same-host redirect chain is
// followed exactly once; the baseline and favicon redirects are not
// followed at all.
func TestProbeRedirectLoopFollowedOnce(t *testing.T) {
	s := newRawServer(t, func(path string, c net.Conn) {
		io.WriteString(c, "HTTP/1.1 302 Found\r\nLocation: /next"+path+"\r\nContent-Length: 0\r\n\r\n")
	})
	if err := (&httpprobe.Prober{Port: s.port(), Paths: []string{}}).Probe(context.Background(), probes.Target{IP: loopback}, func(probes.Observation) {}); err != nil {
		t.Fatal(err)
	}
	if n := s.n.Load(); n != 4 {
		t.Errorf("%d requests, want 4 (GET /, one redirect, the baseline and the favicon)", n)
	}
}
