package mqtt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
)

// writerIndexes reads every record left in the outbox file and returns, per
// writer, the event indexes in seq order.
func writerIndexes(t *testing.T, path string) map[int][]int {
	t.Helper()
	ob, err := openOutbox(path, 10_000_000, 24*time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.close()
	recs, err := ob.peek(0, 10_000_000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]int{}
	var last uint64
	for _, r := range recs {
		if r.Seq <= last {
			t.Fatalf("seq %d after %d", r.Seq, last)
		}
		last = r.Seq
		w, wok := r.Event.Data["w"].(float64)
		i, iok := r.Event.Data["i"].(float64)
		if !wok || !iok {
			t.Fatalf("record %d without w/i: %+v", r.Seq, r.Event.Data)
		}
		out[int(w)] = append(out[int(w)], int(i))
	}
	return out
}

// checkWriters asserts that each writer's events 0..acked[w] are all stored,
// in the order the writer emitted them (anything after the acknowledged ones
// may or may not be there, but never out of order).
func checkWriters(t *testing.T, got map[int][]int, acked map[int]int) {
	t.Helper()
	for w, n := range acked {
		idx := got[w]
		for j, i := range idx {
			if i != j {
				t.Fatalf("writer %d: position %d holds event %d (order or gap broken: %v...)", w, j, i, idx[:min(len(idx), j+3)])
			}
		}
		if len(idx) < n+1 {
			t.Fatalf("writer %d: %d events acknowledged, only %d stored", w, n+1, len(idx))
		}
	}
}

// Many goroutines, some waiting per event and some enqueuing ahead, share
// commits; every acknowledged event is stored and each writer's are in its
// order.
func TestGroupCommitManyWriters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "o.db")
	c, err := Dial(Options{Broker: "tcp://127.0.0.1:1", ApplianceID: "gc", OutboxPath: path,
		ReconnectMin: time.Second, ReconnectMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const writers, per = 32, 60
	acked := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			err := emit(c, w, per, w%2 == 1, func(i int) {
				mu.Lock()
				acked[w] = i
				mu.Unlock()
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := writerIndexes(t, path)
	checkWriters(t, got, acked)
	for w := range writers {
		if acked[w] != per-1 || len(got[w]) != per {
			t.Fatalf("writer %d: acked %d, stored %d, want %d", w, acked[w]+1, len(got[w]), per)
		}
	}
}

// emit sends n events for writer w. pipelined keeps up to 64 in flight and
// reports each as acknowledged only once its Wait returned nil; otherwise
// each Event call is waited for.
func emit(c *Client, w, n int, pipelined bool, ack func(i int)) error {
	ctx := context.Background()
	ev := func(i int) report.Event {
		return report.Event{Type: "gc", MAC: "aa:bb:cc:00:00:01", Data: map[string]any{"w": w, "i": i}}
	}
	if !pipelined {
		for i := range n {
			if err := c.Event(ctx, ev(i)); err != nil {
				return err
			}
			ack(i)
		}
		return nil
	}
	var inflight []*Pending
	next := 0
	for i := range n {
		inflight = append(inflight, c.Enqueue(ev(i)))
		if len(inflight) == 64 {
			if err := inflight[0].Wait(ctx); err != nil {
				return err
			}
			ack(next)
			next++
			inflight = inflight[1:]
		}
	}
	for _, p := range inflight {
		if err := p.Wait(ctx); err != nil {
			return err
		}
		ack(next)
		next++
	}
	return nil
}

// writersHelper is the subprocess side of TestNothingAckedLostOnKill: it
// prints "ok W I" for each event the client acknowledged, until killed.
func writersHelper() int {
	c, err := Dial(Options{Broker: "tcp://127.0.0.1:1", ApplianceID: "gck", OutboxPath: os.Getenv("CWT_MQ_OUTBOX"),
		ReconnectMin: time.Second, ReconnectMax: time.Second})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			err := emit(c, w, 1_000_000, w%2 == 1, func(i int) {
				mu.Lock()
				fmt.Printf("ok %d %d\n", w, i)
				mu.Unlock()
			})
			if err != nil {
				mu.Lock()
				fmt.Println("error", err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return 0
}

// A process SIGKILLed while 8 goroutines emit (half waiting per event, half
// enqueuing 64 ahead) loses none of the events it acknowledged, and each
// writer's stored events are its own, in order, without gaps.
func TestNothingAckedLostOnKill(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "o.db")
	h := startHelper(t, nil, "writers", "gck", path)
	acked := map[int]int{}
	total := 0
	note := func(l string) {
		f := strings.Fields(strings.TrimPrefix(l, "ok "))
		if len(f) != 2 {
			return
		}
		w, _ := strconv.Atoi(f[0])
		i, _ := strconv.Atoi(f[1])
		if i < acked[w] {
			t.Fatalf("writer %d acknowledged %d after %d", w, i, acked[w])
		}
		acked[w] = i
		total++
	}
	for total < 1500 {
		note(h.next(t, 30*time.Second))
	}
	h.kill(t)
	for l := range h.lines {
		note(l)
	}
	got := writerIndexes(t, path)
	checkWriters(t, got, acked)
	stored := 0
	for _, idx := range got {
		stored += len(idx)
	}
	t.Logf("killed after %d acknowledged events; %d stored", total, stored)
}
