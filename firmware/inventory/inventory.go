package inventory

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/camwarden/camwarden/probes"
	bolt "go.etcd.io/bbolt"
)

// FactRecord is one fact with its provenance.
type FactRecord struct {
	Key   string    `json:"key"`
	Value string    `json:"value"`
	Probe string    `json:"probe"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// Device is everything known about one MAC address.
type Device struct {
	MAC       string     `json:"mac"` // canonical aa:bb:cc:dd:ee:ff
	IP        netip.Addr `json:"ip"`
	VLAN      uint16     `json:"vlan,omitempty"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	// ProbedAt is when active probing of this device last finished (zero:
	// never asked), so an installer can tell "not identified" from "never
	// probed".
	ProbedAt time.Time    `json:"probed_at,omitzero"`
	Facts    []FactRecord `json:"facts"`
	// Keep is the weight the owner gave the device (SetKeep); it decides
	// who goes last when the inventory is full, and is persisted so a
	// restart does not expose flagged devices to a flood before the owner
	// has re-marked them.
	Keep Keep `json:"keep,omitempty"`
}

// Keep ranks what the inventory must hold on to when it is full: higher
// levels are evicted only when nothing lower is left.
type Keep uint8

const (
	KeepNone       Keep = iota // unidentified: first to go
	KeepIdentified             // a maker or model was established
	KeepLatched                // a verdict or action is latched on it
	KeepFlagged                // flagged equipment: the reason the appliance exists
	numKeep
)

// HardwareAddr parses d.MAC.
func (d *Device) HardwareAddr() net.HardwareAddr {
	hw, _ := net.ParseMAC(d.MAC)
	return hw
}

// Facts returns the device's facts as probe facts, for classify.
func (d *Device) ProbeFacts() []probes.Fact {
	fs := make([]probes.Fact, len(d.Facts))
	for i, f := range d.Facts {
		fs[i] = probes.Fact{Key: f.Key, Value: f.Value}
	}
	return fs
}

// Value returns the most recently seen value of key.
func (d *Device) Value(key string) (string, bool) {
	var best *FactRecord
	for i := range d.Facts {
		if f := &d.Facts[i]; f.Key == key && (best == nil || f.Last.After(best.Last)) {
			best = f
		}
	}
	if best == nil {
		return "", false
	}
	return best.Value, true
}

func (d *Device) clone() Device {
	c := *d
	c.Facts = slices.Clone(d.Facts)
	return c
}

// Change says what one Merge did.
type Change struct {
	Device       Device // a copy, safe to keep
	New          bool   // first time this MAC was seen
	FactsChanged bool   // a (key, value) pair was added
	IPChanged    bool
	// Evicted is the MAC evicted to make room for this one ("" if none).
	// Options.OnEvict hears about it too.
	Evicted string
}

// Options configures an Inventory.
type Options struct {
	Path       string // bbolt file; "" keeps the inventory in memory only
	MaxDevices int    // least recently seen devices are evicted beyond this
	MaxFacts   int    // per device; least recently seen facts are evicted beyond this
	Now        func() time.Time
	Log        *slog.Logger
	// SeenStep is how often sightings alone reach the disk (default 10
	// minutes; negative: at every Flush). New facts, a new IP or VLAN,
	// ProbedAt and Keep changes are written at the next Flush regardless:
	// only idle chatter waits. Sightings are written in one batch per step
	// into a small bucket of their own (MAC -> time), because bbolt copies
	// every page a transaction touches: a few devices refreshed at every
	// 2 s flush rewrote pages all over the file, a day's worth of gigabytes
	// on an SD card. A one-frame MAC (no Keep, at most one fact) is first
	// written with that batch too, so a MAC flood evicted within the step
	// costs the disk nothing. A power cut loses at most one step of
	// LastSeen; Close writes everything.
	SeenStep time.Duration
	// OnEvict is called with each MAC evicted for room, after the lock is
	// released, on the goroutine that called Merge, so structures kept per
	// device elsewhere can follow the inventory. It must not block long.
	OnEvict func(mac string)
	// EvictLogEvery bounds eviction log lines to one per interval, carrying
	// the count (default 1 minute).
	EvictLogEvery time.Duration
}

// Stats counts what the inventory refused or dropped.
type Stats struct {
	Devices      int
	Evicted      uint64 // devices evicted for room
	EvictedKept  uint64 // of those, devices with a Keep level (the inventory was full of them)
	FactsDropped uint64 // facts evicted for room
	Unresolved   uint64 // observations with no usable MAC and an unknown IP
	Rejected     uint64 // observations with a multicast/broadcast/zero MAC
}

// Inventory is safe for concurrent use.
type Inventory struct {
	opts Options
	db   *bolt.DB

	mu      sync.Mutex
	devices map[string]*entry
	byIP    map[netip.Addr]string
	dirty   map[string]bool // MAC -> present (false: delete)
	// seen holds devices whose LastSeen moved since it was last written,
	// and new one-frame devices not yet written: the next sightings batch.
	seen   map[string]struct{}
	seenAt time.Time // when the last sightings batch was written
	stats  Stats
	// ranks holds every device in one list per eviction rank, least
	// recently seen at the head, so eviction takes the head of the lowest
	// non-empty rank in O(1) instead of scanning the map.
	ranks [numRanks]evictList
	// Eviction log summary: one line per interval with the count.
	evictLogged  time.Time
	evictPending uint64
	evictLast    string
}

// entry is a device plus the inventory's bookkeeping for it.
type entry struct {
	Device
	saved      time.Time // LastSeen as of the last time the device was marked dirty
	onDisk     bool      // a Flush has written it (or it was loaded): removing it needs a delete
	rank       uint8
	prev, next *entry // in ranks[rank]
}

// Devices with more facts were worth probing and hold more of what an
// installer needs, so within one Keep level a one-frame MAC goes before a
// device that answered probes.
const factTiers = 3

const numRanks = int(numKeep) * factTiers

func factTier(n int) int {
	switch {
	case n <= 1:
		return 0 // one frame, or nothing but the MAC
	case n < 5:
		return 1
	default:
		return 2
	}
}

func rankOf(d *Device) uint8 {
	k := min(d.Keep, numKeep-1)
	return uint8(int(k)*factTiers + factTier(len(d.Facts)))
}

// evictList is an intrusive doubly linked list ordered by LastSeen (oldest
// first).
type evictList struct{ head, tail *entry }

func (l *evictList) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// insertStep bounds the backward walk that keeps a list in LastSeen order:
// sightings arrive nearly in time order, so the walk is almost always zero
// steps; a rare far-out-of-order one lands slightly out of place rather than
// costing O(n).
const insertStep = 32

func (l *evictList) insert(e *entry) {
	at := l.tail // insert after at
	for i := 0; at != nil && i < insertStep && at.LastSeen.After(e.LastSeen); i++ {
		at = at.prev
	}
	if at == nil {
		e.prev, e.next = nil, l.head
		if l.head != nil {
			l.head.prev = e
		} else {
			l.tail = e
		}
		l.head = e
		return
	}
	e.prev, e.next = at, at.next
	if at.next != nil {
		at.next.prev = e
	} else {
		l.tail = e
	}
	at.next = e
}

// place (re)files e in the list of its current rank, in LastSeen order.
// Called with mu held.
func (inv *Inventory) place(e *entry, listed bool) {
	if listed {
		inv.ranks[e.rank].remove(e)
	}
	e.rank = rankOf(&e.Device)
	inv.ranks[e.rank].insert(e)
}

var (
	bucket     = []byte("devices/v1")
	seenBucket = []byte("seen/v1") // MAC -> LastSeen, 8 bytes of Unix ns
)

// Open loads the inventory from opts.Path (creating it) or starts empty.
func Open(opts Options) (*Inventory, error) {
	if opts.MaxDevices <= 0 {
		opts.MaxDevices = 4096
	}
	if opts.MaxFacts <= 0 {
		opts.MaxFacts = 256
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.SeenStep == 0 {
		opts.SeenStep = 10 * time.Minute
	}
	if opts.EvictLogEvery <= 0 {
		opts.EvictLogEvery = time.Minute
	}
	inv := &Inventory{
		opts:    opts,
		devices: map[string]*entry{},
		byIP:    map[netip.Addr]string{},
		dirty:   map[string]bool{},
		seen:    map[string]struct{}{},
		seenAt:  opts.Now(),
	}
	if opts.Path == "" {
		return inv, nil
	}
	// The freelist is rebuilt at open rather than written with every
	// transaction: fewer pages per flush.
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true,
		FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("inventory: open %s: %w", opts.Path, err)
	}
	inv.db = db
	var loaded []*entry
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		if err := b.ForEach(func(k, v []byte) error {
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				// One bad record must not cost the rest: skip it and say so.
				opts.Log.Warn("inventory: skipping unreadable record", "key", string(k), "err", err)
				return nil
			}
			e := &entry{Device: d, saved: d.LastSeen, onDisk: true}
			inv.devices[d.MAC] = e
			loaded = append(loaded, e)
			if d.IP.IsValid() {
				inv.byIP[d.IP] = d.MAC
			}
			return nil
		}); err != nil {
			return err
		}
		sb, err := tx.CreateBucketIfNotExists(seenBucket)
		if err != nil {
			return err
		}
		var orphans [][]byte
		if err := sb.ForEach(func(k, v []byte) error {
			e, ok := inv.devices[string(k)]
			if !ok || len(v) != 8 {
				orphans = append(orphans, k)
				return nil
			}
			if t := time.Unix(0, int64(binary.BigEndian.Uint64(v))); t.After(e.LastSeen) {
				e.LastSeen, e.saved = t, t
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range orphans {
			if err := sb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("inventory: load %s: %w", opts.Path, err)
	}
	releaseMapped(opts.Path)
	// Filed oldest first, so every insert lands at a list's tail.
	slices.SortFunc(loaded, func(a, b *entry) int { return a.LastSeen.Compare(b.LastSeen) })
	for _, e := range loaded {
		inv.place(e, false)
	}
	return inv, nil
}

// usableMAC rejects addresses that cannot name one device.
func usableMAC(hw net.HardwareAddr) bool {
	if len(hw) != 6 || hw[0]&0x01 != 0 { // multicast/broadcast
		return false
	}
	return !slices.Equal(hw, net.HardwareAddr{0, 0, 0, 0, 0, 0})
}

// Merge folds an observation into the inventory. An observation without a
// MAC is attributed through the IP the inventory already knows; otherwise it
// is counted as unresolved and dropped.
func (inv *Inventory) Merge(o probes.Observation) (Change, bool) {
	inv.mu.Lock()
	ch, changed := inv.mergeLocked(o)
	inv.mu.Unlock()
	if ch.Evicted != "" && inv.opts.OnEvict != nil {
		inv.opts.OnEvict(ch.Evicted)
	}
	return ch, changed
}

func (inv *Inventory) mergeLocked(o probes.Observation) (Change, bool) {
	var mac string
	switch {
	case o.Key != "":
		// A camera behind a recorder: its own identity, no address here.
		if _, _, ok := probes.ParseChannelKey(o.Key); !ok {
			inv.stats.Rejected++
			return Change{}, false
		}
		mac = o.Key
	case o.MAC != nil:
		if !usableMAC(o.MAC) {
			inv.stats.Rejected++
			return Change{}, false
		}
		mac = o.MAC.String()
	case o.IP.IsValid():
		m, ok := inv.byIP[o.IP]
		if !ok {
			inv.stats.Unresolved++
			return Change{}, false
		}
		mac = m
	default:
		inv.stats.Unresolved++
		return Change{}, false
	}
	now := o.Time
	if now.IsZero() {
		now = inv.opts.Now()
	}
	var ch Change
	e, ok := inv.devices[mac]
	if !ok {
		if len(inv.devices) >= inv.opts.MaxDevices {
			ch.Evicted = inv.evictOne(now)
		}
		e = &entry{Device: Device{MAC: mac, FirstSeen: now}}
		inv.devices[mac] = e
		ch.New = true
	}
	d := &e.Device
	seenMoved := now.After(d.LastSeen)
	if seenMoved {
		d.LastSeen = now
	}
	vlanChanged := o.VLAN != 0 && d.VLAN != o.VLAN
	if vlanChanged {
		d.VLAN = o.VLAN
	}
	if o.IP.IsValid() && o.IP.Is4() && !o.IP.IsUnspecified() && d.IP != o.IP && o.MAC != nil {
		if old := d.IP; old.IsValid() && inv.byIP[old] == mac {
			delete(inv.byIP, old)
		}
		d.IP = o.IP
		inv.byIP[o.IP] = mac
		ch.IPChanged = true
	}
	for i, f := range o.Facts {
		if i >= probes.MaxFacts {
			break
		}
		if f.Key == "" || len(f.Key) > probes.MaxFactKey {
			continue
		}
		if inv.addFact(d, f, o.Probe, now) {
			ch.FactsChanged = true
		}
	}
	if ch.New || ch.FactsChanged || seenMoved {
		// A rank change (more facts) or a later LastSeen refiles it.
		inv.place(e, !ch.New)
	}
	// An idle device's chatter only moves LastSeen: that waits for the
	// next sightings batch (see Options.SeenStep), as does a new MAC that
	// has shown nothing but itself.
	switch {
	case ch.New && e.rank == 0:
		inv.markSeen(mac)
	case ch.New || ch.FactsChanged || ch.IPChanged || vlanChanged:
		inv.markDirty(mac, true)
		e.saved = d.LastSeen
	case d.LastSeen.After(e.saved):
		inv.markSeen(mac)
	}
	ch.Device = d.clone()
	return ch, ch.New || ch.FactsChanged || ch.IPChanged
}

func (inv *Inventory) addFact(d *Device, f probes.Fact, probe string, now time.Time) bool {
	for i := range d.Facts {
		r := &d.Facts[i]
		if r.Key == f.Key && r.Value == f.Value {
			if now.After(r.Last) {
				r.Last = now
			}
			return false
		}
	}
	if len(d.Facts) >= inv.opts.MaxFacts {
		oldest := 0
		for i := range d.Facts {
			if d.Facts[i].Last.Before(d.Facts[oldest].Last) {
				oldest = i
			}
		}
		d.Facts = slices.Delete(d.Facts, oldest, oldest+1)
		inv.stats.FactsDropped++
	}
	d.Facts = append(d.Facts, FactRecord{Key: f.Key, Value: f.Value, Probe: probe, First: now, Last: now})
	return true
}

// evictOne drops the least recently seen device of the lowest rank (fewest
// facts, no Keep level) and returns its MAC. Called with mu held.
func (inv *Inventory) evictOne(now time.Time) string {
	for r := range inv.ranks {
		victim := inv.ranks[r].head
		if victim == nil {
			continue
		}
		mac := victim.MAC
		if victim.Keep > KeepNone {
			inv.stats.EvictedKept++
		}
		inv.removeLocked(mac)
		inv.stats.Evicted++
		inv.evictPending++
		inv.evictLast = mac
		inv.logEvictionsLocked(now, false)
		return mac
	}
	return ""
}

// logEvictionsLocked writes at most one line per EvictLogEvery: a flood
// evicts thousands of devices a minute, and a line each drowned the log.
func (inv *Inventory) logEvictionsLocked(now time.Time, force bool) {
	if inv.evictPending == 0 || (!force && now.Sub(inv.evictLogged) < inv.opts.EvictLogEvery) {
		return
	}
	inv.opts.Log.Warn("inventory full: evicted devices (unidentified and least recently seen first)",
		"count", inv.evictPending, "last_mac", inv.evictLast, "max_devices", inv.opts.MaxDevices,
		"evicted_total", inv.stats.Evicted, "evicted_kept_total", inv.stats.EvictedKept)
	inv.evictLogged, inv.evictPending = now, 0
}

func (inv *Inventory) removeLocked(mac string) bool {
	e, ok := inv.devices[mac]
	if !ok {
		return false
	}
	if e.IP.IsValid() && inv.byIP[e.IP] == mac {
		delete(inv.byIP, e.IP)
	}
	inv.ranks[e.rank].remove(e)
	delete(inv.devices, mac)
	delete(inv.seen, mac)
	if e.onDisk {
		inv.markDirty(mac, false)
	} else {
		// Never written: a flood's MAC evicted before the next flush costs
		// the disk nothing.
		delete(inv.dirty, mac)
	}
	return true
}

// markSeen queues mac for the next sightings batch (nothing without a
// file, as for markDirty).
func (inv *Inventory) markSeen(mac string) {
	if inv.db != nil {
		inv.seen[mac] = struct{}{}
	}
}

// markDirty queues mac for the next Flush. An inventory without a file
// queues nothing: the set would only grow, keyed by whatever MACs a VLAN
// chose to send.
func (inv *Inventory) markDirty(mac string, present bool) {
	if inv.db != nil {
		inv.dirty[mac] = present
	}
}

// SetKeep sets how hard the inventory holds on to mac when it is full
// (the owner calls it when a device is identified, latched or flagged, and
// with a lower level when that ends). It reports whether mac is known.
func (inv *Inventory) SetKeep(mac string, k Keep) bool {
	if hw, err := net.ParseMAC(mac); err == nil {
		mac = hw.String()
	}
	k = min(k, numKeep-1)
	inv.mu.Lock()
	defer inv.mu.Unlock()
	e, ok := inv.devices[mac]
	if !ok {
		return false
	}
	if e.Keep != k {
		e.Keep = k
		inv.place(e, true)
		inv.markDirty(mac, true)
	}
	return true
}

// MarkProbed records that active probing of mac finished at t; it is not a
// sighting, so LastSeen and presence are left alone.
func (inv *Inventory) MarkProbed(mac string, t time.Time) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if e, ok := inv.devices[mac]; ok && t.After(e.ProbedAt) {
		e.ProbedAt = t
		inv.markDirty(mac, true)
	}
}

// Get returns a copy of one device.
func (inv *Inventory) Get(mac string) (Device, bool) {
	if hw, err := net.ParseMAC(mac); err == nil {
		mac = hw.String()
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	e, ok := inv.devices[mac]
	if !ok {
		return Device{}, false
	}
	return e.clone(), true
}

// ResolveIP returns the MAC last seen using ip.
func (inv *Inventory) ResolveIP(ip netip.Addr) (string, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	m, ok := inv.byIP[ip]
	return m, ok
}

// All returns copies of every device, sorted by IP then MAC.
func (inv *Inventory) All() []Device {
	inv.mu.Lock()
	out := make([]Device, 0, len(inv.devices))
	for _, e := range inv.devices {
		out = append(out, e.clone())
	}
	inv.mu.Unlock()
	slices.SortFunc(out, func(a, b Device) int {
		if c := a.IP.Compare(b.IP); c != 0 {
			return c
		}
		if a.MAC < b.MAC {
			return -1
		}
		if a.MAC > b.MAC {
			return 1
		}
		return 0
	})
	return out
}

// Sighting is when one device was last seen.
type Sighting struct {
	MAC      string
	LastSeen time.Time
}

// Sightings appends every device's sighting to buf[:0] and returns it: a
// presence check every second needs only this, and copying every device
// with its facts that often was most of an idle daemon's garbage.
func (inv *Inventory) Sightings(buf []Sighting) []Sighting {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	buf = buf[:0]
	for mac, e := range inv.devices {
		buf = append(buf, Sighting{MAC: mac, LastSeen: e.LastSeen})
	}
	return buf
}

// Len is the number of devices.
func (inv *Inventory) Len() int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return len(inv.devices)
}

// Forget removes a device; it reports whether it was there.
func (inv *Inventory) Forget(mac string) bool {
	if hw, err := net.ParseMAC(mac); err == nil {
		mac = hw.String()
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.removeLocked(mac)
}

// Expire forgets devices not seen since before cutoff and returns their MACs.
func (inv *Inventory) Expire(cutoff time.Time) []string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	var gone []string
	for mac, e := range inv.devices {
		if e.LastSeen.Before(cutoff) {
			gone = append(gone, mac)
		}
	}
	for _, mac := range gone {
		inv.removeLocked(mac)
	}
	slices.Sort(gone)
	return gone
}

// Stats returns counters.
func (inv *Inventory) Stats() Stats {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	s := inv.stats
	s.Devices = len(inv.devices)
	return s
}

// Flush writes every changed device to disk in one transaction (fsync'd by
// bbolt), and the sightings batch when SeenStep has passed since the last
// one. Without a path it does nothing.
func (inv *Inventory) Flush() error { return inv.flush(false) }

func (inv *Inventory) flush(all bool) error {
	now := inv.opts.Now()
	inv.mu.Lock()
	// Flush runs every few seconds: it is where a summary of evictions
	// that stopped mid-interval gets written.
	inv.logEvictionsLocked(now, false)
	seenDue := all || now.Sub(inv.seenAt) >= inv.opts.SeenStep
	if inv.db == nil || (len(inv.dirty) == 0 && (!seenDue || len(inv.seen) == 0)) {
		inv.mu.Unlock()
		return nil
	}
	type rec struct {
		mac  string
		val  []byte
		seen bool // val is a sighting for seenBucket, not a record
	}
	recs := make([]rec, 0, len(inv.dirty))
	encode := func(e *entry) ([]byte, error) {
		// Set before the commit: if it fails, a later removal queues a
		// delete of a missing key, which is harmless.
		e.onDisk, e.saved = true, e.LastSeen
		return json.Marshal(&e.Device)
	}
	for mac, present := range inv.dirty {
		r := rec{mac: mac}
		if e, ok := inv.devices[mac]; ok && present {
			b, err := encode(e)
			if err != nil {
				inv.mu.Unlock()
				return fmt.Errorf("inventory: encode %s: %w", mac, err)
			}
			r.val = b
			delete(inv.seen, mac) // the record carries LastSeen
		}
		recs = append(recs, r)
	}
	var seen []string
	if seenDue {
		for mac := range inv.seen {
			e, ok := inv.devices[mac]
			if !ok {
				continue
			}
			seen = append(seen, mac)
			if !e.onDisk {
				b, err := encode(e)
				if err != nil {
					inv.mu.Unlock()
					return fmt.Errorf("inventory: encode %s: %w", mac, err)
				}
				recs = append(recs, rec{mac: mac, val: b})
				continue
			}
			e.saved = e.LastSeen
			recs = append(recs, rec{mac: mac, val: binary.BigEndian.AppendUint64(nil, uint64(e.LastSeen.UnixNano())), seen: true})
		}
		inv.seen, inv.seenAt = map[string]struct{}{}, now
	}
	inv.dirty = map[string]bool{}
	inv.mu.Unlock()
	err := inv.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		sb, err := tx.CreateBucketIfNotExists(seenBucket)
		if err != nil {
			return err
		}
		for _, r := range recs {
			var err error
			switch {
			case r.seen:
				err = sb.Put([]byte(r.mac), r.val)
			case r.val == nil:
				if err = b.Delete([]byte(r.mac)); err == nil {
					err = sb.Delete([]byte(r.mac))
				}
			default:
				err = b.Put([]byte(r.mac), r.val)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Put them back so the next flush retries: nothing learned is lost
		// to a transient disk error.
		inv.mu.Lock()
		for _, r := range recs {
			if r.seen {
				continue
			}
			if _, set := inv.dirty[r.mac]; !set {
				inv.dirty[r.mac] = r.val != nil
			}
		}
		for _, mac := range seen {
			if _, ok := inv.devices[mac]; ok {
				inv.seen[mac] = struct{}{}
			}
		}
		inv.mu.Unlock()
		return fmt.Errorf("inventory: flush: %w", err)
	}
	releaseMapped(inv.opts.Path)
	return nil
}

// Close flushes and closes the database.
func (inv *Inventory) Close() error {
	inv.mu.Lock()
	inv.logEvictionsLocked(inv.opts.Now(), true)
	inv.mu.Unlock()
	if inv.db == nil {
		return nil
	}
	err := inv.flush(true)
	return errors.Join(err, inv.db.Close())
}
