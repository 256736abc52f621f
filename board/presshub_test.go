package board_test

import (
	"context"
	"testing"
	"time"

	"github.com/camwarden/camwarden/board"
)

func TestPressHub(t *testing.T) {
	var h board.PressHub
	h.Publish(board.Press{Held: time.Second}) // nobody listens: lost
	ctx, cancel := context.WithCancel(context.Background())
	a := h.Subscribe(ctx, 1)
	b := h.Subscribe(context.Background(), 1)
	h.Publish(board.Press{Held: 2 * time.Second})
	h.Publish(board.Press{Held: 3 * time.Second}) // beyond both buffers: dropped, not blocking
	for _, ch := range []<-chan board.Press{a, b} {
		if p := <-ch; p.Held != 2*time.Second {
			t.Fatalf("got %v, want the first press after subscribing", p.Held)
		}
		select {
		case p := <-ch:
			t.Fatalf("got %v beyond the buffer", p.Held)
		default:
		}
	}
	cancel()
	if _, ok := <-a; ok {
		t.Fatal("channel still open after its context ended")
	}
	h.Publish(board.Press{Held: 4 * time.Second}) // must not send on a's closed channel
	if p := <-b; p.Held != 4*time.Second {
		t.Fatalf("b got %v", p.Held)
	}
}

func TestPressHubKeepUnheard(t *testing.T) {
	h := board.PressHub{KeepUnheard: true}
	h.Publish(board.Press{Held: time.Second})
	h.Publish(board.Press{Held: 2 * time.Second})
	ch := h.Subscribe(context.Background(), 4)
	if p := <-ch; p.Held != time.Second {
		t.Fatalf("got %v", p.Held)
	}
	if p := <-ch; p.Held != 2*time.Second {
		t.Fatalf("got %v", p.Held)
	}
	// Kept for the first listener only.
	other := h.Subscribe(context.Background(), 4)
	select {
	case p := <-other:
		t.Fatalf("second listener got %v", p.Held)
	default:
	}
}
