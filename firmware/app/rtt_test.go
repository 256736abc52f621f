package app

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
)

func TestReplyWaitFromRoundTrip(t *testing.T) {
	for _, c := range []struct{ rtt, want time.Duration }{
		{0, unicastWait},                                 // unknown: the whole ceiling
		{time.Millisecond, replyWaitFloor},               // same link: the floor
		{100 * time.Millisecond, 800 * time.Millisecond}, // slow host: eight round trips
		{time.Second, unicastWait},                       // never past the ceiling
	} {
		if got := ReplyWait(c.rtt, unicastWait); got != c.want {
			t.Errorf("ReplyWait(%v) = %v, want %v", c.rtt, got, c.want)
		}
	}
}

// The table of measured round trips is bounded, keeps the smallest per
// host and starts afresh at each sweep.
func TestRTTTableBounded(t *testing.T) {
	var tb rttTable
	for i := range maxRTTs + 100 {
		tb.note(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), time.Millisecond)
	}
	if len(tb.m) != maxRTTs {
		t.Errorf("%d entries, want the cap %d", len(tb.m), maxRTTs)
	}
	a := netip.AddrFrom4([4]byte{198, 18, 0, 1})
	tb.note(a, 5*time.Millisecond)
	tb.note(a, 500*time.Microsecond)
	if d := tb.get(a); d != 500*time.Microsecond {
		t.Errorf("kept %v, want the smallest", d)
	}
	tb.reset()
	if d := tb.get(a); d != 0 || len(tb.m) != 0 {
		t.Errorf("after reset: %v, %d entries", d, len(tb.m))
	}
}

// waitProbe records the reply wait the scheduler gave it.
type waitProbe struct {
	mu   sync.Mutex
	got  time.Duration
	name string
}

func (w *waitProbe) Name() string                    { return w.name }
func (w *waitProbe) ReplyWaitCeiling() time.Duration { return unicastWait }
func (w *waitProbe) Probe(ctx context.Context, _ probes.Target, _ probes.Sink) error {
	w.mu.Lock()
	w.got = probes.ReplyWait(ctx, unicastWait)
	w.mu.Unlock()
	return nil
}

// A unicast ask of a host the sweep measured waits by its round trip; one
// of a host nobody measured waits the whole ceiling.
func TestSchedulerGivesUnicastAsksTheHostsWait(t *testing.T) {
	w := &waitProbe{name: "ask"}
	s := &Scheduler{Probers: []probes.Prober{w}, Concurrency: 1, PerHost: 1, Timeout: 3 * time.Second}
	measured := netip.MustParseAddr("198.18.1.10")
	s.init()
	s.rtts.note(measured, 2*time.Millisecond)
	s.probeHost(context.Background(), probes.Target{IP: measured}, nil)
	if w.got != replyWaitFloor {
		t.Errorf("measured host: wait %v, want the %v floor", w.got, replyWaitFloor)
	}
	s.probeHost(context.Background(), probes.Target{IP: netip.MustParseAddr("198.18.1.11")}, nil)
	if w.got != unicastWait {
		t.Errorf("unmeasured host: wait %v, want the %v ceiling", w.got, unicastWait)
	}
}

// slowSweep is an ARP-sweep-like discoverer (an asker) whose requests take
// longer to send than the discovery window.
type slowSweep struct{ cut bool }

func (*slowSweep) Name() string { return "arp" }
func (s *slowSweep) Discover(ctx context.Context, l probes.Link, emit probes.Sink) error {
	return s.DiscoverThen(ctx, l, emit, nil)
}
func (s *slowSweep) DiscoverThen(ctx context.Context, _ probes.Link, _ probes.Sink, asked func()) error {
	select {
	case <-ctx.Done():
		s.cut = true
		return ctx.Err()
	case <-time.After(300 * time.Millisecond):
	}
	if asked != nil {
		asked()
	}
	return nil
}

// The ARP sweep is not cut at the discovery window: on a loaded host its
// paced requests took longer than the window, and the addresses it had not
// reached yet were never asked (lab200 listed 192 of its 200 devices).
func TestSweepNotCutByDiscoveryWindow(t *testing.T) {
	sw := &slowSweep{}
	s := &Scheduler{Discoverers: []probes.Discoverer{sw}, Links: []probes.Link{{}}, Discovery: 50 * time.Millisecond,
		Sink: func(probes.Observation) {}}
	if err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sw.cut {
		t.Error("the ARP sweep was cut at the 50 ms discovery window before asking every address")
	}
}
