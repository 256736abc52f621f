package app

import (
	"sync"
	"time"
)

// A sweep asks every device on the link in its vendor's discovery protocol
// at once (SADP to its group, DHIP to its group, DVRIP by broadcast); the
// same protocols are also asked per host, so that a device that appears
// between sweeps, or never hears multicast (IGMP snooping without a
// querier), is still asked. Asking both ways doubled the traffic of every
// sweep, and the per-host SADP ask also went to the group, which every
// Hikvision on the VLAN answers (to the group again): on the 200-device
// lab the survey took 13.5 s instead of about 3 s, with the same verdicts.
//
// So while a sweep's round of a protocol is open, a host's ask of that
// protocol waits for the round to end, and is then made only if the host
// did not answer the round; a host that answered the same sweep's ARP
// request was on the link when the round's request went out, so it is
// asked alone (unicast, no group request: probes.WithGroupAsked). A host
// that did not answer the sweep (it was away, or it appeared since) is
// asked at once, to itself and the group, as before.
type coverage struct {
	mu sync.Mutex
	// began is when the latest round of each protocol started, ended when
	// the latest round that sent its request ended (before began: none
	// since); open counts the open round's discoverers (one per link) and
	// sent whether any of them ran.
	began, ended map[string]time.Time
	open         map[string]int
	sent         map[string]bool
	// waiting holds the hosts whose ask waits for the open round.
	waiting map[string]map[string]struct{}
}

// start opens a round of protocol name on links links.
func (c *coverage) start(name string, links int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.began == nil {
		c.began, c.ended = map[string]time.Time{}, map[string]time.Time{}
		c.open, c.sent, c.waiting = map[string]int{}, map[string]bool{}, map[string]map[string]struct{}{}
	}
	if c.open[name] == 0 {
		c.began[name], c.sent[name] = now, false
	}
	c.open[name] += links
}

// end closes one link's round of name at now; ran says that link's
// discoverer sent its request (not: disallowed, cancelled, failed). When
// the last link closes it returns the hosts that waited for the round and
// when it began.
func (c *coverage) end(name string, ran bool, now time.Time) (hosts []string, began time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[name] == 0 {
		return nil, time.Time{}
	}
	c.open[name]--
	c.sent[name] = c.sent[name] || ran
	if c.open[name] > 0 {
		return nil, time.Time{}
	}
	if c.sent[name] {
		c.ended[name] = now
	}
	for mac := range c.waiting[name] {
		hosts = append(hosts, mac)
	}
	delete(c.waiting, name)
	return hosts, c.began[name]
}

// decide is one look at name's rounds for mac's ask: wait (mac is then
// remembered for the open round's end), or the latest round that sent
// its request (zero began: none to lean on).
func (c *coverage) decide(name, mac string) (wait bool, began, ended time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[name] > 0 {
		if c.waiting[name] == nil {
			c.waiting[name] = map[string]struct{}{}
		}
		c.waiting[name][mac] = struct{}{}
		return true, time.Time{}, time.Time{}
	}
	if c.ended[name].Before(c.began[name]) {
		return false, time.Time{}, time.Time{}
	}
	return false, c.began[name], c.ended[name]
}
