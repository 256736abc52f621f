package app

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes"
)

// queueRecorder is a report.Queuer that logs, in order, what the pipeline
// queued ("Q type mac"), published ("D mac") and waited for ("W type mac").
type queueRecorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *queueRecorder) op(s string) {
	r.mu.Lock()
	r.ops = append(r.ops, s)
	r.mu.Unlock()
}

func (r *queueRecorder) Device(_ context.Context, d report.Device) error {
	r.op("blocking-device " + d.MAC)
	return nil
}
func (r *queueRecorder) Forget(context.Context, string) error { return nil }
func (r *queueRecorder) Event(_ context.Context, e report.Event) error {
	r.op("blocking-event " + e.Type)
	return nil
}
func (r *queueRecorder) Status(context.Context, report.Status) error { return nil }
func (r *queueRecorder) Close() error                                { return nil }
func (r *queueRecorder) QueueDevice(d report.Device) error {
	r.op("D " + d.MAC)
	return nil
}
func (r *queueRecorder) QueueEvent(e report.Event) report.Pending {
	r.op("Q " + e.Type + " " + e.MAC)
	return recPending{r, "W " + e.Type + " " + e.MAC}
}

type recPending struct {
	r  *queueRecorder
	op string
}

func (p recPending) Wait(context.Context) error {
	p.r.op(p.op)
	return nil
}

func (r *queueRecorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ops...)
}

// A burst of new devices (a PoE switch powering up) is reported without a
// wait per device: every state and event is queued as the pipeline goes,
// and the events are waited for once the burst is through, each of them.
func TestPipelineQueuesABurstAndWaitsOnce(t *testing.T) {
	c := &clock{time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)}
	inv, err := inventory.Open(inventory.Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	rec := &queueRecorder{}
	p := NewPipeline(&Pipeline{Inv: inv, Classify: factClassifier, Enforcer: &recEnforcer{policy: enforce.DefaultPolicy()},
		Reporter: rec, GoneAfter: time.Minute, Now: c.now})
	const n = 100
	for i := range n {
		p.Sink(probes.Observation{Time: c.t, MAC: net.HardwareAddr{0x02, 0, 0, 0, 1, byte(i)},
			IP: netip.AddrFrom4([4]byte{198, 18, 1, byte(10 + i)}), Probe: "arp", Facts: []probes.Fact{probes.F("arp.op", "gratuitous")}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, time.Hour, time.Hour) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		waited := 0
		for _, o := range rec.snapshot() {
			if strings.HasPrefix(o, "W ") {
				waited++
			}
		}
		if waited == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events waited for: %v", waited, n, rec.snapshot())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	ops := rec.snapshot()
	var queued, devices int
	firstWait := -1
	for i, o := range ops {
		switch {
		case strings.HasPrefix(o, "blocking-"):
			t.Fatalf("the pipeline used the blocking call %q on a Queuer", o)
		case strings.HasPrefix(o, "Q device_new "):
			queued++
		case strings.HasPrefix(o, "D "):
			devices++
		case strings.HasPrefix(o, "W ") && firstWait < 0:
			firstWait = i
		}
	}
	if queued != n || devices != n {
		t.Fatalf("queued %d device_new and %d states, want %d each: %v", queued, devices, n, ops)
	}
	if firstWait < 2*n-1 {
		t.Fatalf("the pipeline waited (op %d) before the burst was through (%d ops): %v", firstWait, 2*n, ops[:firstWait+1])
	}
	for i := range n {
		mac := fmt.Sprintf("02:00:00:00:01:%02x", i)
		if ops[firstWait+i] != "W device_new "+mac {
			t.Fatalf("wait %d is %q, want device_new of %s (in queue order)", i, ops[firstWait+i], mac)
		}
	}
}
