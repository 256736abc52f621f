package app

import (
	"net/netip"
	"sync"
	"time"
)

// How long a unicast discovery ask waits for a first answer after its
// last request, from the host's measured round trip: replyWaitRTTs round
// trips (a vendor daemon answers from user space, slower than the kernel
// that answered ARP or accepted a connection), never less than
// replyWaitFloor and never more than the prober's own ceiling.
//
// The floor is there because a same-link round trip of a millisecond says
// little about a camera whose SoC is busy encoding video, and because some
// devices drop the first datagram from an address they have not resolved
// yet and answer only the second (the asks go twice, unicastInterval
// apart): 250 ms after that second ask. A device slower than that still
// answers the multicast round of the same protocol, which waits by the
// protocol's own rules, and capture hears its own announcements; the ask
// only spares a device that appears between sweeps from waiting for the
// next one.
const (
	replyWaitFloor = 250 * time.Millisecond
	replyWaitRTTs  = 8
)

// ReplyWait is the wait for a host with round trip rtt (0: unknown, which
// waits the whole ceiling).
func ReplyWait(rtt, ceiling time.Duration) time.Duration {
	if rtt <= 0 {
		return ceiling
	}
	return min(max(replyWaitRTTs*rtt, replyWaitFloor), ceiling)
}

// rttTable holds the round trips the latest ARP sweep measured, for every
// probing round of the host until the next sweep (its full round, and the
// asks that waited for a discovery round after it). It is bounded
// (maxRTTs): past that a host just waits the ceiling, as one found without
// a sweep does.
type rttTable struct {
	mu sync.Mutex
	m  map[netip.Addr]time.Duration
}

const maxRTTs = 4096

func (t *rttTable) note(ip netip.Addr, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[netip.Addr]time.Duration{}
	}
	if old, ok := t.m[ip]; ok {
		t.m[ip] = min(old, d)
	} else if len(t.m) < maxRTTs {
		t.m[ip] = d
	}
}

func (t *rttTable) get(ip netip.Addr) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[ip]
}

// reset drops every round trip: a sweep measures them afresh.
func (t *rttTable) reset() {
	t.mu.Lock()
	t.m = nil
	t.mu.Unlock()
}

// roundRTT is one probing round's best estimate of its host's round trip:
// the smallest of what this round's first answers took and what the sweep
// measured (asked each time: the sweep may answer while the round runs).
type roundRTT struct {
	sweep func() time.Duration
	mu    sync.Mutex
	d     time.Duration
}

func (r *roundRTT) note(d time.Duration) {
	r.mu.Lock()
	if r.d == 0 || d < r.d {
		r.d = d
	}
	r.mu.Unlock()
}

func (r *roundRTT) get() time.Duration {
	r.mu.Lock()
	d := r.d
	r.mu.Unlock()
	if sw := r.sweep(); sw > 0 && (d == 0 || sw < d) {
		d = sw
	}
	return d
}
