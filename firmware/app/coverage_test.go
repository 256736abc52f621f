package app

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/probes"
)

// fakeLAN is a test inventory: when each host last gave facts from each
// probe, and the unicast asks made.
type fakeLAN struct {
	mu    sync.Mutex
	spoke map[string]map[string]time.Time
	asks  []ask
}

type ask struct {
	mac   string
	alone bool // probes.GroupAsked
	at    time.Time
}

func (l *fakeLAN) sink(o probes.Observation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	mac := o.MAC.String()
	if len(o.Facts) > 0 {
		if l.spoke[mac] == nil {
			l.spoke[mac] = map[string]time.Time{}
		}
		l.spoke[mac][o.Probe] = time.Now()
	}
}

// roundDisc is a discovery round: the hosts in answer reply (as facts
// from probe name; an "arp" round notes their round trips, as the ARP
// sweep does) and the round ends after d.
type roundDisc struct {
	name   string
	answer []net.HardwareAddr
	d      time.Duration
	ended  *time.Time
	mu     *sync.Mutex
	ips    map[string]netip.Addr
	s      **Scheduler
}

func (r roundDisc) Name() string { return r.name }
func (r roundDisc) Discover(ctx context.Context, _ probes.Link, emit probes.Sink) error {
	for _, m := range r.answer {
		if r.name == "arp" {
			(*r.s).rtts.note(r.ips[m.String()], time.Millisecond)
			continue
		}
		emit(probes.Observation{MAC: m, Probe: r.name, Facts: []probes.Fact{probes.F(r.name+".seen", "reply")}})
	}
	select {
	case <-time.After(r.d):
	case <-ctx.Done():
	}
	r.mu.Lock()
	*r.ended = time.Now()
	r.mu.Unlock()
	return nil
}

// askRecorder is a unicast ask that records who was asked, and how.
type askRecorder struct{ lan *fakeLAN }

func (askRecorder) Name() string { return "sadp" }
func (a askRecorder) Probe(ctx context.Context, t probes.Target, _ probes.Sink) error {
	a.lan.mu.Lock()
	a.lan.asks = append(a.lan.asks, ask{t.MAC.String(), probes.GroupAsked(ctx), time.Now()})
	a.lan.mu.Unlock()
	return nil
}

// A sweep's SADP round stands in for the per-host SADP ask: a host that
// answered it is not asked again, a host that answered the sweep's ARP but
// not the round is asked once, alone, after the round; a host that
// appears later is asked at once, with the group, as before.
func TestSweepRoundCoversUnicastAsks(t *testing.T) {
	lan := &fakeLAN{spoke: map[string]map[string]time.Time{}}
	hik := net.HardwareAddr{0x58, 0x50, 0xed, 0, 0, 1}
	axis := net.HardwareAddr{0x00, 0x40, 0x8c, 0, 0, 2}
	late := net.HardwareAddr{0x00, 0x40, 0x8c, 0, 0, 3}
	ips := map[string]netip.Addr{hik.String(): netip.MustParseAddr("198.18.1.10"),
		axis.String(): netip.MustParseAddr("198.18.1.11"), late.String(): netip.MustParseAddr("198.18.1.12")}
	var mu sync.Mutex
	var roundEnd time.Time
	var s *Scheduler
	s = &Scheduler{
		Probers: []probes.Prober{unicastAsk{askRecorder{lan}, true}},
		Discoverers: []probes.Discoverer{
			// The "ARP sweep" hears both hosts at once.
			roundDisc{name: "arp", answer: []net.HardwareAddr{hik, axis}, d: 10 * time.Millisecond, ended: new(time.Time), mu: &mu, ips: ips, s: &s},
			roundDisc{name: "sadp", answer: []net.HardwareAddr{hik}, d: 300 * time.Millisecond, ended: &roundEnd, mu: &mu},
		},
		Links: []probes.Link{{}}, Timeout: time.Second, Discovery: 2 * time.Second, Concurrency: 4, PerHost: 4,
		Target: func(mac string) (probes.Target, bool) {
			hw, _ := net.ParseMAC(mac)
			return probes.Target{MAC: hw, IP: ips[mac]}, true
		},
		Spoke: func(mac, probe string, since time.Time) bool {
			lan.mu.Lock()
			defer lan.mu.Unlock()
			at, ok := lan.spoke[mac][probe]
			return ok && !at.Before(since)
		},
	}
	s.Sink = lan.sink
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	// Both hosts are on the link before the sweep and get their rounds as
	// it starts (as OnAddress does).
	lan.sink(probes.Observation{MAC: hik})
	lan.sink(probes.Observation{MAC: axis})
	done := make(chan struct{})
	go func() {
		s.Sweep(ctx)
		close(done)
	}()
	time.Sleep(20 * time.Millisecond) // the rounds are open
	s.Enqueue(hik.String())
	s.Enqueue(axis.String())
	<-done
	waitUntil(t, "the asks after the round", func() bool { return s.Idle() && s.Probed() >= 3 })

	lan.mu.Lock()
	asks := append([]ask(nil), lan.asks...)
	lan.mu.Unlock()
	mu.Lock()
	end := roundEnd
	mu.Unlock()
	if len(asks) != 1 || asks[0].mac != axis.String() {
		t.Fatalf("asked %+v; want only the silent host (the Hikvision answered the round)", asks)
	}
	if !asks[0].alone || asks[0].at.Before(end) {
		t.Fatalf("silent host asked %+v, round ended %v: want it asked alone, after the round", asks[0], end)
	}

	// A host that appears after the round is asked at once, with the group.
	lan.sink(probes.Observation{MAC: late})
	s.Enqueue(late.String())
	waitUntil(t, "the late host's ask", func() bool {
		lan.mu.Lock()
		defer lan.mu.Unlock()
		return len(lan.asks) == 2
	})
	lan.mu.Lock()
	defer lan.mu.Unlock()
	if a := lan.asks[1]; a.mac != late.String() || a.alone {
		t.Fatalf("late host asked %+v; want it asked with the group", a)
	}
}

// A device's own SADP inquiry (an NVR, an installer's tool) is no answer:
// only a reply since the round began counts.
func TestSpokeCountsAnswersOnly(t *testing.T) {
	inv, err := inventory.Open(inventory.Options{MaxDevices: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	mac := net.HardwareAddr{0x58, 0x50, 0xed, 0, 0, 9}
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	spoke := spokeSince(inv)
	inv.Merge(probes.Observation{Time: t0, MAC: mac, Probe: "sadp", Facts: []probes.Fact{probes.F("sadp.seen", "inquiry")}})
	if spoke(mac.String(), "sadp", t0) {
		t.Fatal("an inquiry counted as an answer")
	}
	inv.Merge(probes.Observation{Time: t0.Add(time.Second), MAC: mac, Probe: "sadp", Facts: []probes.Fact{probes.F("sadp.seen", "reply")}})
	if !spoke(mac.String(), "sadp", t0) {
		t.Fatal("a reply since the round began did not count")
	}
	if spoke(mac.String(), "sadp", t0.Add(2*time.Second)) || spoke(mac.String(), "dhip", t0) {
		t.Fatal("an earlier reply, or another protocol's, counted")
	}
}
