package inventory

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	bolt "go.etcd.io/bbolt"
)

// Idle chatter reaches the disk only with the sightings batch, once per
// SeenStep, and a one-frame MAC waits for that batch too; anything learned
// is written at the next flush; an idle inventory writes nothing at all.
func TestIdleSightingsWaitForTheStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.db")
	now := t0
	clock := func() time.Time { return now }
	inv, err := Open(Options{Path: path, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	pages := func() int64 { st := inv.db.Stats(); return st.TxStats.GetWrite() }
	flushWrote := func() bool {
		t.Helper()
		w := pages()
		if err := inv.Flush(); err != nil {
			t.Fatal(err)
		}
		return pages() > w
	}
	at := func(d time.Duration) probes.Observation {
		now = t0.Add(d)
		return obs(1, d, "arp", "arp.op", "reply")
	}
	inv.Merge(at(0))
	if flushWrote() {
		t.Fatal("a one-frame MAC was written before the sightings batch")
	}
	inv.Merge(obs(1, 2*time.Second, "dhcp", "dhcp.hostname", "cam"))
	if !flushWrote() {
		t.Fatal("a new fact was not written at the next flush")
	}
	for s := 4; s < 600; s += 2 { // ten minutes of ARP replies, 2 s apart
		inv.Merge(at(time.Duration(s) * time.Second))
		if flushWrote() {
			t.Fatalf("a sighting at +%ds was written before the step", s)
		}
	}
	inv.Merge(at(602 * time.Second))
	if !flushWrote() {
		t.Fatal("no sightings batch after the step")
	}
	now = now.Add(time.Hour)
	if flushWrote() {
		t.Fatal("an idle inventory wrote at a flush")
	}
	o := at(3610 * time.Second)
	o.IP = o.IP.Next()
	inv.Merge(o)
	if !flushWrote() {
		t.Fatal("a new IP was not written at the next flush")
	}
	o = at(3620 * time.Second)
	o.IP = o.IP.Next()
	inv.Merge(o) // idle again: left for Close
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	inv2, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer inv2.Close()
	d, _ := inv2.Get(mac(1).String())
	if _, ok := d.Value("dhcp.hostname"); !ok || d.IP != o.IP {
		t.Fatalf("learned facts not persisted: %+v", d)
	}
	if !d.LastSeen.Equal(t0.Add(3620 * time.Second)) {
		t.Fatalf("LastSeen restored as %v, want the last sighting (Close writes it)", d.LastSeen.Sub(t0))
	}
}

// A sightings batch survives a restart without Close (as after a power
// cut, up to the batch), and a forgotten device's sighting goes with it.
func TestSightingsBatchRestored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.db")
	now := t0
	inv, err := Open(Options{Path: path, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	inv.Merge(obs(1, 0, "sadp", "a", "1", "b", "2"))
	inv.Merge(obs(2, 0, "sadp", "a", "1", "b", "2"))
	inv.Flush()
	now = t0.Add(11 * time.Minute)
	inv.Merge(obs(1, 11*time.Minute, "sadp", "a", "1"))
	inv.Merge(obs(2, 11*time.Minute, "sadp", "a", "1"))
	inv.Flush()
	inv.Forget(mac(2).String())
	inv.Flush()
	inv.db.Close() // no Close: nothing written beyond the flushes
	inv2, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer inv2.Close()
	if d, _ := inv2.Get(mac(1).String()); !d.LastSeen.Equal(t0.Add(11 * time.Minute)) {
		t.Fatalf("LastSeen after restart %v, want the batch's +11m", d.LastSeen.Sub(t0))
	}
	if _, ok := inv2.Get(mac(2).String()); ok {
		t.Fatal("forgotten device came back")
	}
	inv2.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(seenBucket).Get([]byte(mac(2).String())); v != nil {
			t.Error("a forgotten device's sighting stayed on disk")
		}
		return nil
	})
}

func randMAC(r *rand.Rand) net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	for i := range m {
		m[i] = byte(r.Uint32())
	}
	m[0] &^= 0x01 // unicast
	m[0] |= 0x02  // locally administered, like a flood tool's
	return m
}

// Within one Keep level the one-frame MACs go first, then the least
// recently seen; a marked device outlives all unmarked ones.
func TestEvictionOrder(t *testing.T) {
	inv, _ := Open(Options{MaxDevices: 20})
	// 1..5: probed devices (6 facts), seen first.
	for i := 1; i <= 5; i++ {
		inv.Merge(obs(i, 0, "sadp", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6"))
	}
	// 6: flagged, seen once, long ago, one fact.
	inv.Merge(obs(6, 0, "arp", "arp.op", "reply"))
	if !inv.SetKeep(mac(6).String(), KeepFlagged) {
		t.Fatal("SetKeep on a known device said unknown")
	}
	if inv.SetKeep("02:00:00:00:00:99", KeepFlagged) {
		t.Fatal("SetKeep on an unknown device said known")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		inv.Merge(probes.Observation{Time: t0.Add(time.Hour + time.Duration(i)*time.Millisecond), MAC: randMAC(r), Probe: "arp",
			Facts: []probes.Fact{probes.F("arp.op", "request")}})
	}
	for i := 1; i <= 6; i++ {
		if _, ok := inv.Get(mac(i).String()); !ok {
			t.Fatalf("device %d evicted by one-frame MACs", i)
		}
	}
	if inv.Len() != 20 {
		t.Fatalf("len %d, want 20", inv.Len())
	}
	// Only probed and flagged devices left to evict: the least recently
	// seen unflagged probed one goes first, the flagged one last.
	inv2, _ := Open(Options{MaxDevices: 3})
	for i := 1; i <= 3; i++ {
		inv2.Merge(obs(i, time.Duration(i)*time.Second, "sadp", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"))
	}
	inv2.SetKeep(mac(1).String(), KeepIdentified)
	ch, _ := inv2.Merge(obs(4, 10*time.Second, "sadp", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"))
	if ch.Evicted != mac(2).String() {
		t.Fatalf("evicted %q, want the least recently seen unmarked device %s", ch.Evicted, mac(2))
	}
}

// The OnEvict callback hears every eviction, outside the lock (it may call
// back into the inventory).
func TestOnEvictOutsideLock(t *testing.T) {
	var mu sync.Mutex
	var got []string
	var inv *Inventory
	inv, _ = Open(Options{MaxDevices: 2, OnEvict: func(m string) {
		inv.Len() // deadlocks if called under the lock
		_, still := inv.Get(m)
		mu.Lock()
		defer mu.Unlock()
		if still {
			got = append(got, "still there: "+m)
			return
		}
		got = append(got, m)
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		for i := 1; i <= 5; i++ {
			inv.Merge(obs(i, time.Duration(i)*time.Second, "arp"))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("OnEvict called with the lock held (deadlock)")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{mac(1).String(), mac(2).String(), mac(3).String()}
	if len(got) != len(want) {
		t.Fatalf("OnEvict heard %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("OnEvict heard %v, want %v", got, want)
		}
	}
	if s := inv.Stats(); s.Evicted != 3 || s.EvictedKept != 0 {
		t.Fatalf("stats %+v", s)
	}
}

type countHandler struct {
	mu    sync.Mutex
	lines int
	count uint64
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines++
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "count" {
			h.count += a.Value.Uint64()
		}
		return true
	})
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

// A flood of 100,000 random MACs over 10 minutes with 50 identified devices
// marked: none of those is evicted, the inventory stays at its cap, every
// eviction is counted and called back, and the log has one summary line a
// minute, not one per eviction.
func TestFloodKeepsMarkedDevices(t *testing.T) {
	h := &countHandler{}
	var evicted int
	now := t0
	inv, _ := Open(Options{MaxDevices: 4096, Log: slog.New(h), Now: func() time.Time { return now },
		OnEvict: func(string) { evicted++ }})
	for i := 1; i <= 50; i++ {
		inv.Merge(obs(i, 0, "sadp", "sadp.model", "DS-2CD2385G1-I"))
		inv.SetKeep(mac(i).String(), KeepIdentified)
	}
	r := rand.New(rand.NewPCG(3, 4))
	const flood = 100_000
	for i := range flood {
		now = t0.Add(time.Minute + time.Duration(i)*6*time.Millisecond) // 10 minutes at ~170 frames/s
		inv.Merge(probes.Observation{Time: now, MAC: randMAC(r), Probe: "arp"})
	}
	for i := 1; i <= 50; i++ {
		if _, ok := inv.Get(mac(i).String()); !ok {
			t.Fatalf("identified device %d evicted by the flood", i)
		}
	}
	if inv.Len() != 4096 {
		t.Fatalf("len %d, want the cap 4096", inv.Len())
	}
	s := inv.Stats()
	want := uint64(50 + flood - 4096)
	if s.Evicted != want || s.EvictedKept != 0 || uint64(evicted) != want {
		t.Fatalf("evicted %d (kept %d, callbacks %d), want %d", s.Evicted, s.EvictedKept, evicted, want)
	}
	inv.Close()
	if h.lines > 12 || h.count != want {
		t.Fatalf("%d log lines carrying %d evictions, want <= 12 lines carrying %d", h.lines, h.count, want)
	}
	t.Logf("%d evictions in %d log lines", s.Evicted, h.lines)
}

// Keep survives a restart, so a flood right after boot cannot push out
// flagged devices before the owner re-marks them.
func TestKeepPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.db")
	inv, _ := Open(Options{Path: path, MaxDevices: 10})
	inv.Merge(obs(1, 0, "arp"))
	inv.SetKeep(mac(1).String(), KeepFlagged)
	inv.Close()
	inv2, _ := Open(Options{Path: path, MaxDevices: 10})
	defer inv2.Close()
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 100 {
		inv2.Merge(probes.Observation{Time: t0.Add(time.Duration(i+1) * time.Second), MAC: randMAC(r), Probe: "arp"})
	}
	if d, ok := inv2.Get(mac(1).String()); !ok || d.Keep != KeepFlagged {
		t.Fatalf("flagged device after restart and flood: %+v %v", d, ok)
	}
}

// BenchmarkMergeFlood merges new random MACs into a full inventory (every
// Merge evicts): ns/op must not grow with the cap.
func BenchmarkMergeFlood(b *testing.B) {
	for _, cap := range []int{4096, 65536} {
		b.Run("cap="+itoa(cap), func(b *testing.B) {
			inv, _ := Open(Options{MaxDevices: cap})
			r := rand.New(rand.NewPCG(7, 8))
			for i := range cap {
				inv.Merge(probes.Observation{Time: t0.Add(time.Duration(i)), MAC: randMAC(r), Probe: "arp"})
			}
			os := make([]probes.Observation, 8192)
			for i := range os {
				os[i] = probes.Observation{MAC: randMAC(r), Probe: "arp", Facts: []probes.Fact{probes.F("arp.op", "request")}}
			}
			i := 0
			for b.Loop() {
				o := os[i%len(os)]
				o.Time = t0.Add(time.Hour + time.Duration(i))
				inv.Merge(o)
				i++
			}
			if inv.Len() != cap {
				b.Fatalf("len %d", inv.Len())
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for ; n > 0; n /= 10 {
		i--
		buf[i] = byte('0' + n%10)
	}
	return string(buf[i:])
}

// BenchmarkDeviceMemory reports the heap one device costs in the inventory,
// with the facts a typical camera leaves (8 facts from ARP, DHCP and SADP).
func BenchmarkDeviceMemory(b *testing.B) {
	const n = 5000
	facts := []probes.Fact{probes.F("arp.op", "reply"), probes.F("dhcp.hostname", "IPCamera"),
		probes.F("dhcp.vendor_class", "udhcp 1.20.2"), probes.F("dhcp.prl", "1,3,6,12,15,28,42"),
		probes.F("sadp.model", "DS-2CD2385G1-I"), probes.F("sadp.firmware", "V5.6.3 build 190923"),
		probes.F("sadp.serial", "DS-2CD2385G1-I20200101AAWRD12345678"), probes.F("oui.vendor", "Hangzhou Hikvision")}
	var per float64
	for b.Loop() {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		inv, _ := Open(Options{MaxDevices: n})
		for i := range n {
			inv.Merge(probes.Observation{Time: t0, MAC: net.HardwareAddr{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)},
				Probe: "sadp", Facts: facts})
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		per = float64(m1.HeapAlloc-m0.HeapAlloc) / n
		runtime.KeepAlive(inv)
	}
	b.ReportMetric(per, "bytes/device")
}

// A MAC that arrives and is evicted between two flushes never reaches the
// disk: neither a write nor a delete is queued for it.
func TestFloodBetweenFlushesWritesNothing(t *testing.T) {
	inv, err := Open(Options{Path: filepath.Join(t.TempDir(), "inventory.db"), MaxDevices: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	for i := 1; i <= 10; i++ {
		inv.Merge(obs(i, 0, "sadp", "a", "1", "b", "2"))
	}
	if err := inv.Flush(); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 1000 {
		inv.Merge(probes.Observation{Time: t0.Add(time.Duration(i+1) * time.Millisecond), MAC: randMAC(r), Probe: "arp"})
	}
	inv.mu.Lock()
	n := len(inv.dirty)
	inv.mu.Unlock()
	// The 10 flushed devices survive (more facts); the last flood MACs
	// present now are queued; the 990 evicted ones are not.
	if n > 10 {
		t.Fatalf("%d MACs queued for the flush after a 1,000-MAC flood into a 10-device inventory", n)
	}
}
