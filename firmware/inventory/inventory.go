package inventory

import (
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
}

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
}

// Options configures an Inventory.
type Options struct {
	Path       string // bbolt file; "" keeps the inventory in memory only
	MaxDevices int    // least recently seen devices are evicted beyond this
	MaxFacts   int    // per device; least recently seen facts are evicted beyond this
	Now        func() time.Time
	Log        *slog.Logger
}

// Stats counts what the inventory refused or dropped.
type Stats struct {
	Devices      int
	Evicted      uint64 // devices evicted for room
	FactsDropped uint64 // facts evicted for room
	Unresolved   uint64 // observations with no usable MAC and an unknown IP
	Rejected     uint64 // observations with a multicast/broadcast/zero MAC
}

// Inventory is safe for concurrent use.
type Inventory struct {
	opts Options
	db   *bolt.DB

	mu      sync.Mutex
	devices map[string]*Device
	byIP    map[netip.Addr]string
	dirty   map[string]bool // MAC -> present (false: delete)
	stats   Stats
}

var bucket = []byte("devices/v1")

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
	inv := &Inventory{
		opts:    opts,
		devices: map[string]*Device{},
		byIP:    map[netip.Addr]string{},
		dirty:   map[string]bool{},
	}
	if opts.Path == "" {
		return inv, nil
	}
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("inventory: open %s: %w", opts.Path, err)
	}
	inv.db = db
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				// One bad record must not cost the rest: skip it and say so.
				opts.Log.Warn("inventory: skipping unreadable record", "key", string(k), "err", err)
				return nil
			}
			inv.devices[d.MAC] = &d
			if d.IP.IsValid() {
				inv.byIP[d.IP] = d.MAC
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("inventory: load %s: %w", opts.Path, err)
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
	defer inv.mu.Unlock()
	var mac string
	switch {
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
	d, ok := inv.devices[mac]
	if !ok {
		if len(inv.devices) >= inv.opts.MaxDevices {
			inv.evictOldest()
		}
		d = &Device{MAC: mac, FirstSeen: now}
		inv.devices[mac] = d
		ch.New = true
	}
	if now.After(d.LastSeen) {
		d.LastSeen = now
	}
	if o.VLAN != 0 {
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
	inv.dirty[mac] = true
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

// evictOldest drops the least recently seen device. Called with mu held.
func (inv *Inventory) evictOldest() {
	var victim *Device
	for _, d := range inv.devices {
		if victim == nil || d.LastSeen.Before(victim.LastSeen) {
			victim = d
		}
	}
	if victim != nil {
		inv.removeLocked(victim.MAC)
		inv.stats.Evicted++
		inv.opts.Log.Warn("inventory full: evicted least recently seen device", "mac", victim.MAC,
			"max_devices", inv.opts.MaxDevices)
	}
}

func (inv *Inventory) removeLocked(mac string) bool {
	d, ok := inv.devices[mac]
	if !ok {
		return false
	}
	if d.IP.IsValid() && inv.byIP[d.IP] == mac {
		delete(inv.byIP, d.IP)
	}
	delete(inv.devices, mac)
	inv.dirty[mac] = false
	return true
}

// MarkProbed records that active probing of mac finished at t; it is not a
// sighting, so LastSeen and presence are left alone.
func (inv *Inventory) MarkProbed(mac string, t time.Time) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if d, ok := inv.devices[mac]; ok && t.After(d.ProbedAt) {
		d.ProbedAt = t
		inv.dirty[mac] = true
	}
}

// Get returns a copy of one device.
func (inv *Inventory) Get(mac string) (Device, bool) {
	if hw, err := net.ParseMAC(mac); err == nil {
		mac = hw.String()
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	d, ok := inv.devices[mac]
	if !ok {
		return Device{}, false
	}
	return d.clone(), true
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
	for _, d := range inv.devices {
		out = append(out, d.clone())
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
	for mac, d := range inv.devices {
		if d.LastSeen.Before(cutoff) {
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
// bbolt). Without a path it does nothing.
func (inv *Inventory) Flush() error {
	if inv.db == nil {
		return nil
	}
	inv.mu.Lock()
	if len(inv.dirty) == 0 {
		inv.mu.Unlock()
		return nil
	}
	type rec struct {
		mac string
		val []byte
	}
	recs := make([]rec, 0, len(inv.dirty))
	for mac, present := range inv.dirty {
		r := rec{mac: mac}
		if present {
			if d, ok := inv.devices[mac]; ok {
				b, err := json.Marshal(d)
				if err != nil {
					inv.mu.Unlock()
					return fmt.Errorf("inventory: encode %s: %w", mac, err)
				}
				r.val = b
			}
		}
		recs = append(recs, r)
	}
	inv.dirty = map[string]bool{}
	inv.mu.Unlock()
	err := inv.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, r := range recs {
			var err error
			if r.val == nil {
				err = b.Delete([]byte(r.mac))
			} else {
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
			if _, set := inv.dirty[r.mac]; !set {
				inv.dirty[r.mac] = r.val != nil
			}
		}
		inv.mu.Unlock()
		return fmt.Errorf("inventory: flush: %w", err)
	}
	return nil
}

// Close flushes and closes the database.
func (inv *Inventory) Close() error {
	if inv.db == nil {
		return nil
	}
	err := inv.Flush()
	return errors.Join(err, inv.db.Close())
}
