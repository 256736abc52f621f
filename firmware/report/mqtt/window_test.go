package mqtt

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
)

// A window of 4 refilled as each PUBACK arrives, with the broker stopped
// (SIGSTOP) while the window is full: every event arrives once, first
// deliveries in order, and the outbox empties.
func TestSlidingWindowKeepsOrderThroughAStall(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app-w": "pww"}})
	topic := "camwarden/v1/app-w/evt/win"
	col := newCollector(t, b, topic, "colw", false)
	o := applianceOpts(t, b, "app-w", "")
	o.PublishWindow = 4
	c := dial(t, o)
	waitUp(t, c)
	const n = 300
	ctx := context.Background()
	for i := range n {
		if i == 100 {
			b.Pause()
		}
		if err := c.Event(ctx, report.Event{Type: "win", Data: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
		if i == 200 {
			// The window has been full and stalled for a while.
			if q, _ := c.QueueLen(); q < 100-4 {
				t.Errorf("outbox holds %d events while the broker is stopped; want at least %d", q, 100-4)
			}
			b.Resume()
		}
	}
	ms := col.waitFor(20*time.Second, "all events", func(ms []msg) bool { return distinct(ms, topic) >= n })
	dups, _ := checkBurst(t, ms, topic, n)
	if dups > 0 {
		t.Errorf("%d duplicates on a link that never dropped", dups)
	}
	waitQueue(t, c, 0)
}

// Records that cannot be decoded (a torn or foreign value) are skipped and
// deleted; the readable ones around them go out in order.
func TestUnreadableRecordsAreSkippedInOrder(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app-u": "pwu"}})
	topic := "camwarden/v1/app-u/evt/rec"
	col := newCollector(t, b, topic, "colu", false)
	dir := t.TempDir()
	o := applianceOpts(t, b, "app-u", dir)
	ob, err := openOutbox(o.OutboxPath, 1000, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for i := range 20 {
		r, done, err := ob.append(report.Event{Type: "rec", Time: time.Now(), Data: map[string]any{"i": i}}, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, r.Seq)
	}
	// Spoil events 3, 4 and 11 (first, inside and across a window of 4).
	err = ob.db.Update(func(tx *bolt.Tx) error {
		ev := tx.Bucket(bucketEvents)
		for _, k := range []int{3, 4, 11} {
			if err := ev.Put(seqKey(seqs[k]), []byte("\x00\x00\x00\x00\x00\x00\x00\x01{not json")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.close(); err != nil {
		t.Fatal(err)
	}
	o.PublishWindow = 4
	c := dial(t, o)
	waitUp(t, c)
	ms := col.waitFor(10*time.Second, "17 events", func(ms []msg) bool { return distinct(ms, topic) >= 17 })
	var got []int
	for _, m := range ms {
		ev, err := DecodeEvent(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, int(ev.Data["i"].(float64)))
	}
	want := []int{0, 1, 2, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19}
	if len(got) != len(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delivered %v, want %v", got, want)
		}
	}
	waitQueue(t, c, 0)
}
