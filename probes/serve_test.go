package probes_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// TestServeConnsClosesIdleOnCancel: an idle client must not hold the
// responder open once ctx ends, and every handler has returned by then.
func TestServeConnsClosesIdleOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	handled := make(chan struct{}, 2)
	finished := make(chan struct{}, 2)
	done := make(chan error, 1)
	go func() {
		done <- probes.ServeConns(ctx, ln, "test responder", nil, func(c net.Conn) error {
			handled <- struct{}{}
			defer func() { finished <- struct{}{} }()
			_, err := io.Copy(io.Discard, c) // blocks until the conn is closed
			return err
		})
	}()
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-handled
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeConns: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("ServeConns still waiting on idle clients after cancel")
	}
	if len(finished) != 2 {
		t.Fatalf("%d of 2 handlers had returned", len(finished))
	}
}

func TestServeConnsAcceptError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // not by ctx: a real failure, reported
	err = probes.ServeConns(context.Background(), ln, "test responder", nil, func(net.Conn) error { return nil })
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("err %v", err)
	}
}
