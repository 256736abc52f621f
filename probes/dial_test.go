package probes_test

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// silent accepts connections and never answers, like a stalled device.
func silent(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

func TestDialBoundedDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	conn, release, err := probes.DialBounded(ctx, nil, silent(t))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	start := time.Now()
	_, err = conn.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("read returned %v after %s, want the deadline", err, time.Since(start))
	}
}

func TestDialBoundedCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background()) // no deadline
	var dialed string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = network
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	conn, release, err := probes.DialBounded(ctx, dial, silent(t))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if dialed != "tcp" {
		t.Fatalf("dialed %q", dialed)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = conn.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("read returned %v after %s, want the cancel to interrupt it", err, time.Since(start))
	}
}

func TestDialBoundedRelease(t *testing.T) {
	conn, release, err := probes.DialBounded(context.Background(), nil, silent(t))
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := conn.Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after release: %v", err)
	}
}

func TestDialBoundedError(t *testing.T) {
	want := errors.New("refused")
	_, _, err := probes.DialBounded(context.Background(), func(context.Context, string, string) (net.Conn, error) { return nil, want }, "x:1")
	if !errors.Is(err, want) {
		t.Fatalf("err %v", err)
	}
}
