package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/camwarden/camwarden/board/boardtest"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
)

// siteDevice is what device i of a busy camera VLAN typically leaves: ARP
// and DHCP for all, vendor discovery answers and a web banner for the
// cameras (one in ten a Hikvision, one in ten an Axis), so the verdicts
// carry evidence as they would on a real site.
func siteDevice(i int, now time.Time) probes.Observation {
	mac := net.HardwareAddr{0x00, 0x40, 0x8c, byte(i >> 16), byte(i >> 8), byte(i)} // Axis OUI
	facts := []probes.Fact{probes.F("arp.op", "reply"), probes.F("dhcp.hostname", fmt.Sprintf("host-%d", i)),
		probes.F("dhcp.vendor_class", "udhcp 1.20.2"), probes.F("dhcp.fingerprint", "1,3,6,12,15,28,42|udhcp 1.20.2")}
	switch i % 10 {
	case 0:
		mac = net.HardwareAddr{0x44, 0x19, 0xb6, byte(i >> 16), byte(i >> 8), byte(i)} // Hikvision OUI
		facts = append(facts, probes.F("sadp.model", "DS-2CD2385G1-I"), probes.F("sadp.firmware", "V5.6.3 build 190923"),
			probes.F("sadp.serial", fmt.Sprintf("DS-2CD2385G1-I20200101AAWRD%08d", i)), probes.F("http.server", "App-webs/"))
	case 1:
		facts = append(facts, probes.F("onvif.manufacturer", "AXIS"), probes.F("onvif.model", "P3245-LVE"),
			probes.F("http.server", "Apache/2.4.54 (Unix)"))
	}
	return probes.Observation{Time: now, MAC: mac, IP: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
		Probe: "passive", Facts: facts}
}

// memPipeline is a daemon's pipeline with the real signature set and a real
// enforcer on a test board, the parts that hold per-device memory.
func memPipeline(t testing.TB, max int) (*Pipeline, *enforce.Enforcer) {
	t.Helper()
	var p *Pipeline
	inv, err := inventory.Open(inventory.Options{MaxDevices: max, OnEvict: func(mac string) { p.Evicted(context.Background(), mac) }})
	if err != nil {
		t.Fatal(err)
	}
	enf, err := enforce.New(enforce.Options{Board: boardtest.New()})
	if err != nil {
		t.Fatal(err)
	}
	sigs := classify.Default()
	p = NewPipeline(&Pipeline{Inv: inv, Enforcer: enf, Reporter: report.NewLog(slog.New(slog.DiscardHandler)),
		GoneAfter: 30 * time.Minute, Classify: func(mac net.HardwareAddr, f []probes.Fact) classify.Verdict {
			return classify.Classify(sigs, classify.Input{MAC: mac, Facts: f})
		}})
	return p, enf
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestPipelineMemoryPerDevice fills a daemon's pipeline with 5,000 realistic
// devices and reports what each costs on the heap, across the inventory,
// the pipeline's views and the enforcer. With CW_HEAPPROFILE=FILE it
// writes a heap profile of that state (go tool pprof -top FILE).
func TestPipelineMemoryPerDevice(t *testing.T) {
	const n = 5000
	ctx := context.Background()
	if os.Getenv("CW_HEAPPROFILE") != "" {
		defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1 // every allocation, not a sample
	}
	// The OUI table and the signature set are loaded once per process and
	// are not per-device cost.
	p0, _ := memPipeline(t, n)
	p0.apply(ctx, siteDevice(0, time.Now()))
	before := heapInUse()
	p, enf := memPipeline(t, n)
	now := time.Now()
	for i := range n {
		p.apply(ctx, siteDevice(i, now))
	}
	after := heapInUse()
	per := float64(int64(after)-int64(before)) / n
	t.Logf("%d devices: %.0f bytes of heap per device (inventory + pipeline + enforcer)", n, per)
	if f := os.Getenv("CW_HEAPPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(out); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
	if got := p.Inv.Len(); got != n {
		t.Fatalf("inventory holds %d devices, want %d", got, n)
	}
	runtime.KeepAlive(p)
	runtime.KeepAlive(enf)
	runtime.KeepAlive(p0)
}

// A 20,000-MAC flood into a full 5,000-device pipeline with the real
// signatures: no flagged device is evicted, and every per-device map of
// the pipeline shrinks with the inventory.
func TestFloodKeepsFlaggedAndMapsFollow(t *testing.T) {
	const n = 5000
	ctx := context.Background()
	p, _ := memPipeline(t, n)
	now := time.Now()
	for i := range n {
		p.apply(ctx, siteDevice(i, now))
	}
	var flagged []string
	for _, v := range p.Views() {
		if v.Flagged {
			flagged = append(flagged, v.MAC)
		}
	}
	if len(flagged) != n/10 {
		t.Fatalf("%d devices flagged before the flood, want the %d Hikvision ones", len(flagged), n/10)
	}
	for i := range 20_000 {
		now = now.Add(time.Millisecond)
		p.apply(ctx, probes.Observation{Time: now, MAC: net.HardwareAddr{0x02, 0xf1, 0, byte(i >> 16), byte(i >> 8), byte(i)},
			Probe: "arp", Facts: []probes.Fact{probes.F("arp.op", "request")}})
	}
	for _, mac := range flagged {
		if _, ok := p.Inv.Get(mac); !ok {
			t.Fatalf("flagged %s evicted by the flood", mac)
		}
	}
	p.mu.Lock()
	last, seen := len(p.last), len(p.seen)
	p.mu.Unlock()
	if inv := p.Inv.Len(); inv != n || last != n || seen != n {
		t.Fatalf("after the flood: inventory %d, views %d, presence %d; want %d each", inv, last, seen, n)
	}
}

// Idle sightings leave the views' generation alone (so the state files are
// neither rebuilt nor rewritten); an eviction moves it.
func TestIdleSightingsKeepViewsGeneration(t *testing.T) {
	ctx := context.Background()
	p, _ := memPipeline(t, 10)
	now := time.Now()
	for i := range 10 {
		p.apply(ctx, siteDevice(i, now))
	}
	g := p.Gen()
	for range 5 {
		now = now.Add(10 * time.Second)
		for i := range 10 {
			p.apply(ctx, siteDevice(i, now))
		}
		p.sweepPresence(ctx, 0)
	}
	if p.Gen() != g {
		t.Fatal("idle sightings moved the views' generation")
	}
	p.apply(ctx, probes.Observation{Time: now, MAC: net.HardwareAddr{0x02, 0xf1, 0, 0, 0, 1}, Probe: "arp"})
	if p.Gen() == g {
		t.Fatal("an eviction and a new device left the generation alone")
	}
}
