package mqtt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
)

// A stalled broker (connected, acknowledging nothing) holds up Device but
// not QueueDevice/QueueEvent: the pipeline keeps classifying while the
// broker is slow, and everything queued arrives once it answers again.
func TestQueueDoesNotWaitForTheBroker(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app1": "pw1"}})
	col := newCollector(t, b, "camwarden/v1/app1/#", "colq", true)
	c := dial(t, applianceOpts(t, b, "app1", ""))
	waitUp(t, c)

	b.Pause()
	resumed := false
	defer func() {
		if !resumed {
			b.Resume()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := c.Device(ctx, report.Device{MAC: "aa:bb:cc:00:01:00", Maker: "axis"})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Device with a stalled broker: %v, want it to wait for PUBACK until ctx ends", err)
	}

	const n = 200
	done := make(chan []report.Pending, 1)
	go func() {
		var ps []report.Pending
		for i := range n {
			mac := fmt.Sprintf("aa:bb:cc:00:00:%02x", i)
			if err := c.QueueDevice(report.Device{MAC: mac, Maker: "hikvision", Flagged: true}); err != nil {
				t.Errorf("QueueDevice %s: %v", mac, err)
			}
			ps = append(ps, c.QueueEvent(report.Event{Type: report.EvtDeviceNew, MAC: mac}))
		}
		done <- ps
	}()
	var ps []report.Pending
	select {
	case ps = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("QueueDevice/QueueEvent blocked on the stalled broker")
	}
	// Durable without the broker: the outbox commits locally.
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	for i, p := range ps {
		if err := p.Wait(wctx); err != nil {
			t.Fatalf("event %d not durable while the broker is stalled: %v", i, err)
		}
	}
	if err := c.QueueDevice(report.Device{MAC: "aa:bb:#"}); err == nil {
		t.Fatal("QueueDevice accepted a MAC that cannot be a topic level")
	}
	if err := c.QueueEvent(report.Event{Type: "bad/type"}).Wait(wctx); err == nil {
		t.Fatal("QueueEvent accepted a type that cannot be a topic level")
	}

	b.Resume()
	resumed = true
	col.waitFor(30*time.Second, "every queued device and event", func(ms []msg) bool {
		devs, evs := map[string]bool{}, 0
		for _, m := range ms {
			switch {
			case strings.HasPrefix(m.Topic, "camwarden/v1/app1/devices/aa:bb:cc:00:00:"):
				devs[m.Topic] = true
			case m.Topic == "camwarden/v1/app1/evt/device_new":
				evs++
			}
		}
		return len(devs) == n && evs >= n
	})
}
