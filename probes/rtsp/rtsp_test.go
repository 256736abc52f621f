package rtsp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	httpprobe "github.com/camwarden/camwarden/probes/http"
	"github.com/camwarden/camwarden/probes/probetest"
	"github.com/camwarden/camwarden/probes/rtsp"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

type collector struct {
	mu    sync.Mutex
	facts map[string][]string
	n     int
}

func (c *collector) sink(o probes.Observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.facts == nil {
		c.facts = map[string][]string{}
	}
	for _, f := range o.Facts {
		c.facts[f.Key] = append(c.facts[f.Key], f.Value)
	}
}

func (c *collector) get(k string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.facts[k], "|")
}

func TestProbeCamsimProfiles(t *testing.T) {
	ps, err := camsim.Profiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.RTSP == nil {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			// Only the RTSP section runs, on a port we know is free.
			port := probetest.FreePort(t)
			only := camsim.Profile{Name: p.Name, RTSP: &camsim.RTSPProfile{Port: port, Server: p.RTSP.Server, Realm: p.RTSP.Realm, Public: p.RTSP.Public}}
			stop := camsim.Start(only, camsim.Host{IP: loopback}, nil)
			defer func() {
				if err := stop(); err != nil {
					t.Error(err)
				}
			}()
			var c collector
			pr := &rtsp.Prober{Port: port, Dial: retryDial}
			if err := pr.Probe(context.Background(), probes.Target{IP: loopback}, c.sink); err != nil {
				t.Fatal(err)
			}
			if got := c.get("rtsp.server"); got != p.RTSP.Server {
				t.Errorf("server = %q, want %q", got, p.RTSP.Server)
			}
			if got := c.get("rtsp.realm"); got != p.RTSP.Realm {
				t.Errorf("realm = %q, want %q", got, p.RTSP.Realm)
			}
			want := p.RTSP.Public
			if want == "" {
				want = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"
			}
			if got := c.get("rtsp.public"); got != want {
				t.Errorf("public = %q, want %q", got, want)
			}
		})
	}
}

// retryDial waits for the emulated server to start listening.
func retryDial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil || ctx.Err() != nil {
			return c, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveRaw answers each connection with fn.
func serveRaw(t *testing.T, fn func(c net.Conn, br *bufio.Reader)) int {
	t.Helper()
	return probetest.ServeTCP(t, func(c net.Conn) { fn(c, bufio.NewReader(c)) })
}

func skipRequest(br *bufio.Reader) {
	for {
		l, err := br.ReadString('\n')
		if err != nil || strings.TrimSpace(l) == "" {
			return
		}
	}
}

func TestProbeHostile(t *testing.T) {
	okOptions := "RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Kept\r\nPublic: OPTIONS\r\n\r\n"
	tests := []struct {
		name    string
		fn      func(c net.Conn, br *bufio.Reader)
		wantErr error
		server  string
		maxTime time.Duration
		timeout time.Duration
	}{
		{"slow", func(c net.Conn, br *bufio.Reader) { time.Sleep(3 * time.Second) }, nil, "", time.Second, 200 * time.Millisecond},
		{"truncated describe keeps options facts", func(c net.Conn, br *bufio.Reader) {
			skipRequest(br)
			io.WriteString(c, okOptions)
			skipRequest(br)
			io.WriteString(c, "RTSP/1.0 401 Unauth")
		}, io.ErrUnexpectedEOF, "Kept", time.Second, time.Second},
		{"oversized head", func(c net.Conn, br *bufio.Reader) {
			skipRequest(br)
			io.WriteString(c, "RTSP/1.0 200 OK\r\n")
			for range 200 {
				if _, err := io.WriteString(c, "X: "+strings.Repeat("z", 1000)+"\r\n"); err != nil {
					return
				}
			}
		}, httpprobe.ErrHeadTooLarge, "", time.Second, time.Second},
		{"http not rtsp", func(c net.Conn, br *bufio.Reader) {
			skipRequest(br)
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n")
		}, rtsp.ErrNotRTSP, "", time.Second, time.Second},
		{"garbage", func(c net.Conn, br *bufio.Reader) {
			skipRequest(br)
			c.Write([]byte("\xf4\x00\x00\x00\x00\x00\x00\x00\r\n\r\n"))
		}, httpprobe.ErrMalformed, "", time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			port := serveRaw(t, tt.fn)
			var c collector
			start := time.Now()
			err := (&rtsp.Prober{Port: port, Timeout: tt.timeout}).Probe(context.Background(), probes.Target{IP: loopback}, c.sink)
			if err == nil {
				t.Fatal("want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) && !(tt.wantErr == io.ErrUnexpectedEOF && errors.Is(err, io.EOF)) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("err = %v, want timeout", err)
				}
			}
			if d := time.Since(start); d > tt.maxTime {
				t.Errorf("took %v, want under %v", d, tt.maxTime)
			}
			if got := c.get("rtsp.server"); got != tt.server {
				t.Errorf("server = %q, want %q", got, tt.server)
			}
		})
	}
}

// gstScript serves a videotestsrc mount with Debian's gst-rtsp-server.
const gstScript = `
import sys, gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
s = GstRtspServer.RTSPServer()
s.set_address('127.0.0.1')
s.set_service(sys.argv[1])
f = GstRtspServer.RTSPMediaFactory()
f.set_launch('( videotestsrc is-live=1 ! video/x-raw,width=64,height=48 ! rtpvrawpay name=pay0 pt=96 )')
s.get_mount_points().add_factory('/test', f)
if s.attach(None) == 0:
    sys.exit('attach failed')
print('ready', flush=True)
GLib.MainLoop().run()
`

// TestProbeGStreamer asks a real third-party RTSP server.
func TestProbeGStreamer(t *testing.T) {
	typelib := "/usr/lib/x86_64-linux-gnu/girepository-1.0/GstRtspServer-1.0.typelib"
	if m, _ := filepath.Glob("/usr/lib/*/girepository-1.0/GstRtspServer-1.0.typelib"); len(m) > 0 {
		typelib = m[0]
	}
	labtest.RequireBinary(t, typelib) // apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi
	labtest.RequireBinary(t, "/usr/bin/python3")
	port := probetest.FreePort(t)
	dir := t.TempDir()
	script := dir + "/serve.py"
	if err := os.WriteFile(script, []byte(gstScript), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", script, strconv.Itoa(port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by PID: the process we started
		_ = cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		ready <- l
	}()
	select {
	case l := <-ready:
		if !strings.HasPrefix(l, "ready") {
			t.Fatalf("gst-rtsp-server did not start: %q %s", l, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("gst-rtsp-server start timed out: %s", stderr.String())
	}
	var c collector
	if err := (&rtsp.Prober{Port: port}).Probe(context.Background(), probes.Target{IP: loopback}, c.sink); err != nil {
		t.Fatal(err)
	}
	if got := c.get("rtsp.server"); !strings.HasPrefix(got, "GStreamer RTSP server") {
		t.Errorf("server = %q, want GStreamer's", got)
	}
	if got := c.get("rtsp.public"); !strings.Contains(got, "DESCRIBE") {
		t.Errorf("public = %q", got)
	}
	t.Logf("gstreamer facts: %v", c.facts)
}
