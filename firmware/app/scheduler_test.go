package app

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// hostCount counts probes running against each host, across probers.
type hostCount struct {
	mu  sync.Mutex
	cur map[string]int
	max int
}

// slowProber records how many of its probes run at once.
type slowProber struct {
	name     string
	d        time.Duration
	cur, max atomic.Int64
	hosts    *hostCount
}

func (p *slowProber) Name() string { return p.name }
func (p *slowProber) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	n := p.cur.Add(1)
	for {
		m := p.max.Load()
		if n <= m || p.max.CompareAndSwap(m, n) {
			break
		}
	}
	h := p.hosts
	h.mu.Lock()
	h.cur[t.IP.String()]++
	h.max = max(h.max, h.cur[t.IP.String()])
	h.mu.Unlock()
	defer func() {
		p.cur.Add(-1)
		h.mu.Lock()
		h.cur[t.IP.String()]--
		h.mu.Unlock()
	}()
	select {
	case <-time.After(p.d):
		emit(probes.Observation{IP: t.IP, MAC: t.MAC, Probe: p.name, Facts: []probes.Fact{probes.F(p.name+".ok", "1")}})
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestSchedulerBoundsConcurrencyAndTimesOut(t *testing.T) {
	shared := &hostCount{cur: map[string]int{}}
	var probers []probes.Prober
	var sps []*slowProber
	for i := range 4 {
		sp := &slowProber{name: fmt.Sprint("p", i), d: 20 * time.Millisecond, hosts: shared}
		sps = append(sps, sp)
		probers = append(probers, sp)
	}
	hang := &slowProber{name: "hang", d: time.Hour, hosts: shared}
	probers = append(probers, hang)
	var got atomic.Int64
	s := &Scheduler{Probers: probers, Concurrency: 3, PerHost: 2, Timeout: 50 * time.Millisecond,
		Sink: func(probes.Observation) { got.Add(1) },
		Target: func(mac string) (probes.Target, bool) {
			hw, _ := net.ParseMAC(mac)
			return probes.Target{MAC: hw, IP: netip.AddrFrom4([4]byte{198, 18, 1, hw[5]})}, true
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	for i := range 10 {
		s.Enqueue(net.HardwareAddr{2, 0, 0, 0, 0, byte(i + 1)}.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Probed() < 10 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if s.Probed() != 10 {
		t.Fatalf("probed %d hosts, want 10", s.Probed())
	}
	if got.Load() != 40 {
		t.Fatalf("observations %d, want 40 (4 probers x 10 hosts; the hanging one emits none)", got.Load())
	}
	// Each host runs at most PerHost probes at once; hosts at most Concurrency.
	// A prober never runs against more hosts at once than Concurrency.
	for _, sp := range sps {
		if m := sp.max.Load(); m > 3 {
			t.Errorf("prober %s ran %d at once, more than the 3 hosts allowed", sp.name, m)
		}
	}
	if shared.max > 2 {
		t.Fatalf("per-host concurrency %d > 2", shared.max)
	}
	if m := hang.max.Load(); m > 3 {
		t.Fatalf("hanging prober ran %d at once; at most one per busy host (3)", m)
	}
}

func TestEnqueueDedupes(t *testing.T) {
	s := &Scheduler{}
	s.Enqueue("02:00:00:00:00:01")
	s.Enqueue("02:00:00:00:00:01")
	if len(s.queue) != 1 {
		t.Fatalf("queued %d", len(s.queue))
	}
	if s.Idle() {
		t.Fatal("idle with work queued")
	}
}

// A host still unidentified after its probing is probed again, with
// back-off, at most len(Retry) times; one identified in between is not.
func TestSchedulerRetriesUnidentifiedHosts(t *testing.T) {
	var probed atomic.Int64
	var identified atomic.Bool
	p := &countProber{n: &probed}
	s := &Scheduler{Probers: []probes.Prober{p}, Concurrency: 1, PerHost: 1, Timeout: time.Second,
		Sink:  func(probes.Observation) {},
		Retry: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
		Again: func(string) bool { return !identified.Load() },
		Target: func(mac string) (probes.Target, bool) {
			return probes.Target{IP: netip.MustParseAddr("198.18.1.9")}, true
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Enqueue("02:00:00:00:00:09")
	time.Sleep(500 * time.Millisecond)
	if n := probed.Load(); n != 4 {
		t.Fatalf("probed %d times, want 1 + 3 retries", n)
	}
	identified.Store(false)
	probed.Store(0)
	s.Enqueue("02:00:00:00:00:0a")
	time.Sleep(5 * time.Millisecond)
	identified.Store(true) // identified before the first retry is due
	time.Sleep(300 * time.Millisecond)
	if n := probed.Load(); n != 1 {
		t.Fatalf("identified host probed %d times, want 1", n)
	}
}

type countProber struct{ n *atomic.Int64 }

func (countProber) Name() string { return "count" }
func (c countProber) Probe(context.Context, probes.Target, probes.Sink) error {
	c.n.Add(1)
	return nil
}

type namedProber struct {
	name string
	mu   *sync.Mutex
	ran  *[]string
}

func (p namedProber) Name() string { return p.name }
func (p namedProber) Probe(context.Context, probes.Target, probes.Sink) error {
	p.mu.Lock()
	*p.ran = append(*p.ran, p.name)
	p.mu.Unlock()
	return nil
}

// A targeted round runs only the probers named; requests for a waiting host
// merge, and a full round swallows targeted ones.
func TestEnqueueProbesRunsOnlyThoseNamed(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	var ps []probes.Prober
	for _, n := range []string{"http", "onvif", "sadp", "rtsp"} {
		ps = append(ps, namedProber{n, &mu, &ran})
	}
	s := &Scheduler{Probers: ps, Timeout: time.Second,
		Target: func(string) (probes.Target, bool) { return probes.Target{IP: netip.MustParseAddr("198.18.1.9")}, true }}
	s.EnqueueProbes("a", []string{"onvif"})
	s.EnqueueProbes("a", []string{"http"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	waitUntil(t, "the targeted round", func() bool { return s.Idle() && s.Probed() == 1 })
	mu.Lock()
	got := slices.Sorted(slices.Values(ran))
	ran = nil
	mu.Unlock()
	if !slices.Equal(got, []string{"http", "onvif"}) {
		t.Fatalf("targeted round ran %v, want http and onvif", got)
	}
	cancel()

	s2 := &Scheduler{Probers: ps, Timeout: time.Second, Target: s.Target}
	s2.EnqueueProbes("b", []string{"onvif"})
	s2.Enqueue("b")
	s2.EnqueueProbes("b", []string{"http"})
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go s2.Run(ctx2)
	waitUntil(t, "the full round", func() bool { return s2.Idle() && s2.Probed() == 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != 4 {
		t.Fatalf("full round ran %v, want all four probers once", ran)
	}
}
