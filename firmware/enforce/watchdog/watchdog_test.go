package watchdog

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen creates a real notify socket like systemd's and points
// NOTIFY_SOCKET at it, so the real daemon.SdNotify is exercised.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func recv(c *net.UnixConn, wait time.Duration) []string {
	var msgs []string
	buf := make([]byte, 256)
	deadline := time.Now().Add(wait)
	for {
		c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		if err != nil {
			return msgs
		}
		msgs = append(msgs, string(buf[:n]))
	}
}

func TestKeepaliveOnlyWhileHealthy(t *testing.T) {
	sock := listen(t)
	dev := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := New(Options{Interval: 20 * time.Millisecond, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	var turned atomic.Int64
	turned.Store(time.Now().UnixNano())
	w.Register("enforce", Fresh(func() time.Time { return time.Unix(0, turned.Load()) }, 50*time.Millisecond, nil))
	var captureErr atomic.Value
	captureErr.Store(errors.New(""))
	w.Register("capture", func() error {
		if e := captureErr.Load().(error); e.Error() != "" {
			return e
		}
		return nil
	})
	if err := w.Ready(); err != nil {
		t.Fatal(err)
	}
	if m := recv(sock, 100*time.Millisecond); len(m) != 1 || m[0] != "READY=1" {
		t.Fatalf("ready: %q", m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan struct{})
	go func() { w.Run(ctx); close(ran) }()

	// Healthy: the loop keeps turning.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				turned.Store(time.Now().UnixNano())
			}
		}
	}()
	m := recv(sock, 200*time.Millisecond)
	if len(m) < 3 || m[0] != "WATCHDOG=1" { // ~10 expected; slack for loaded CI
		t.Fatalf("healthy keepalives: %q", m)
	}
	// The enforcement loop hangs: keepalives stop once the deadline passes.
	close(stop)
	time.Sleep(80 * time.Millisecond)
	recv(sock, 10*time.Millisecond) // drain those sent inside the deadline
	if m := recv(sock, 150*time.Millisecond); len(m) != 0 {
		t.Fatalf("keepalives while the loop is hung: %q", m)
	}
	if err := w.Kick(); err == nil || !strings.Contains(err.Error(), "enforce") {
		t.Fatalf("Kick while hung = %v", err)
	}
	// The loop comes back but capture is dead: still nothing.
	turned.Store(time.Now().Add(time.Hour).UnixNano())
	captureErr.Store(errors.New("no packets for 2m"))
	if m := recv(sock, 100*time.Millisecond); len(m) != 0 {
		t.Fatalf("keepalives while capture is dead: %q", m)
	}
	captureErr.Store(errors.New(""))
	if m := recv(sock, 100*time.Millisecond); len(m) == 0 {
		t.Fatal("no keepalives after recovery")
	}
	// Close while Run may still be mid-kick: nothing may follow STOPPING=1.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-ran
	if m := recv(sock, 50*time.Millisecond); len(m) == 0 || m[len(m)-1] != "STOPPING=1" {
		t.Fatalf("close: %q", m)
	}
	b, _ := os.ReadFile(dev)
	if len(b) < 5 || b[len(b)-1] != 'V' {
		t.Fatalf("hardware device got %d bytes ending %q; want keepalives then magic close", len(b), b[len(b)-1:])
	}
}

func TestIntervalFromSystemd(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "8000000")
	t.Setenv("WATCHDOG_PID", "")
	w, err := New(Options{Notify: func(string) (bool, error) { return false, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if w.Interval() != 4*time.Second {
		t.Fatalf("interval %v, want half of WATCHDOG_USEC", w.Interval())
	}
}

func TestFresh(t *testing.T) {
	now := time.Unix(1000, 0)
	c := Fresh(func() time.Time { return time.Time{} }, time.Second, func() time.Time { return now })
	if c() == nil {
		t.Error("never-run loop counted as fresh")
	}
	c = Fresh(func() time.Time { return now.Add(-time.Second) }, time.Second, func() time.Time { return now })
	if c() != nil {
		t.Error("exactly at deadline should pass")
	}
	c = Fresh(func() time.Time { return now.Add(-1001 * time.Millisecond) }, time.Second, func() time.Time { return now })
	if c() == nil {
		t.Error("stale loop counted as fresh")
	}
}

func TestMissingDevice(t *testing.T) {
	_, err := New(Options{Device: filepath.Join(t.TempDir(), "nope")})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("New = %v", err)
	}
}

// The hardware's timeout bounds the keepalive period: half of it, when
// systemd's WatchdogSec/2 would be longer (a Pi's bcm2835-wdt allows
// about 16 s; the emulated i6300esb was set to 10 s and reset a healthy
// box kicking every 15 s).
func TestKeepaliveIntervalRespectsHardware(t *testing.T) {
	for _, c := range []struct{ systemd, hw, want time.Duration }{
		{15 * time.Second, 10 * time.Second, 5 * time.Second},
		{15 * time.Second, 0, 15 * time.Second},
		{5 * time.Second, 60 * time.Second, 5 * time.Second},
		{15 * time.Second, 16 * time.Second, 8 * time.Second},
	} {
		if got := keepaliveInterval(c.systemd, c.hw); got != c.want {
			t.Errorf("keepaliveInterval(%v, %v) = %v, want %v", c.systemd, c.hw, got, c.want)
		}
	}
}
