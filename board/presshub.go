package board

import (
	"context"
	"sync"
)

// PressHub fans a button's presses out to its listeners. Every Button
// implementation (GPIO, console, fake) embeds one, so that subscribing,
// unsubscribing when the listener's context ends and dropping presses for a
// listener that does not keep up work the same on the bench as on the box.
// The zero value is ready to use; it is safe for concurrent use.
type PressHub struct {
	// KeepUnheard keeps presses published while nobody listens and hands
	// them to the next listener. Fakes set it so a test need not race the
	// code's subscription; a real button loses such presses.
	KeepUnheard bool

	mu      sync.Mutex
	subs    map[chan Press]struct{}
	pending []Press
}

// Subscribe returns the presses published from now on, until ctx ends,
// when the channel is closed. It buffers buf presses: a listener further
// behind than that loses presses, as it would with a real button.
func (h *PressHub) Subscribe(ctx context.Context, buf int) <-chan Press {
	ch := make(chan Press, buf)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan Press]struct{}{}
	}
	h.subs[ch] = struct{}{}
	for _, p := range h.pending {
		select {
		case ch <- p:
		default:
		}
	}
	h.pending = nil
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
		// Closed only once unsubscribed under mu, so Publish never sends on
		// a closed channel.
		close(ch)
	}()
	return ch
}

// Publish delivers p to every listener without ever blocking the caller
// (a button reader or a blink loop must not stall on a slow listener).
func (h *PressHub) Publish(p Press) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 && h.KeepUnheard {
		h.pending = append(h.pending, p)
		return
	}
	for ch := range h.subs {
		select {
		case ch <- p:
		default:
		}
	}
}
