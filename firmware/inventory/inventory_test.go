package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func mac(i int) net.HardwareAddr { return net.HardwareAddr{0x44, 0x19, 0xb6, 0, byte(i >> 8), byte(i)} }

func obs(i int, at time.Duration, probe string, kv ...string) probes.Observation {
	o := probes.Observation{Time: t0.Add(at), MAC: mac(i), IP: netip.AddrFrom4([4]byte{198, 18, 1, byte(i)}), Probe: probe}
	for j := 0; j+1 < len(kv); j += 2 {
		o.Facts = append(o.Facts, probes.F(kv[j], kv[j+1]))
	}
	return o
}

func TestMergeReportsWhatChanged(t *testing.T) {
	inv, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch, changed := inv.Merge(obs(1, 0, "arp", "arp.op", "gratuitous"))
	if !changed || !ch.New || !ch.FactsChanged || !ch.IPChanged {
		t.Fatalf("first observation: %+v changed=%v", ch, changed)
	}
	if _, changed := inv.Merge(obs(1, time.Second, "arp", "arp.op", "gratuitous")); changed {
		t.Fatal("repeating a known fact reported a change")
	}
	d, _ := inv.Get(mac(1).String())
	if !d.LastSeen.Equal(t0.Add(time.Second)) || d.Facts[0].Last != t0.Add(time.Second) || d.Facts[0].First != t0 {
		t.Fatalf("times not tracked: %+v", d)
	}
	ch, changed = inv.Merge(obs(1, 2*time.Second, "sadp", "sadp.model", "DS-2CD2385G1-I"))
	if !changed || ch.New || !ch.FactsChanged {
		t.Fatalf("new fact: %+v", ch)
	}
	if v, _ := ch.Device.Value("sadp.model"); v != "DS-2CD2385G1-I" || ch.Device.Facts[1].Probe != "sadp" {
		t.Fatalf("fact not stored with its probe: %+v", ch.Device.Facts)
	}
}

func TestObservationWithoutMACUsesKnownIP(t *testing.T) {
	inv, _ := Open(Options{})
	inv.Merge(obs(7, 0, "arp", "arp.op", "reply"))
	o := obs(7, time.Second, "http", "http.server", "App-webs/")
	o.MAC = nil
	if ch, ok := inv.Merge(o); !ok || ch.Device.MAC != mac(7).String() {
		t.Fatalf("IP-only observation not attributed: %+v", ch)
	}
	o.IP = netip.MustParseAddr("198.18.1.99")
	if _, ok := inv.Merge(o); ok {
		t.Fatal("observation for an unknown IP was attributed")
	}
	if s := inv.Stats(); s.Unresolved != 1 {
		t.Fatalf("unresolved not counted: %+v", s)
	}
	bad := obs(8, 0, "arp")
	bad.MAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if _, ok := inv.Merge(bad); ok || inv.Stats().Rejected != 1 {
		t.Fatal("broadcast MAC accepted")
	}
}

func TestIPMovesBetweenDevices(t *testing.T) {
	inv, _ := Open(Options{})
	inv.Merge(obs(1, 0, "arp"))
	o := obs(2, time.Second, "arp")
	o.IP = netip.MustParseAddr("198.18.1.1") // device 2 takes device 1's address
	inv.Merge(o)
	if m, _ := inv.ResolveIP(netip.MustParseAddr("198.18.1.1")); m != mac(2).String() {
		t.Fatalf("IP index points at %s", m)
	}
}

func TestBoundedDevicesEvictLeastRecentlySeen(t *testing.T) {
	inv, _ := Open(Options{MaxDevices: 3})
	for i := 1; i <= 3; i++ {
		inv.Merge(obs(i, time.Duration(i)*time.Second, "arp"))
	}
	inv.Merge(obs(1, 10*time.Second, "arp")) // 1 is fresh again; 2 is now the stalest
	inv.Merge(obs(4, 11*time.Second, "arp"))
	if inv.Len() != 3 {
		t.Fatalf("len %d, want 3", inv.Len())
	}
	if _, ok := inv.Get(mac(2).String()); ok {
		t.Fatal("stalest device survived")
	}
	if _, ok := inv.Get(mac(1).String()); !ok {
		t.Fatal("recently seen device evicted")
	}
	if inv.Stats().Evicted != 1 {
		t.Fatal("eviction not counted")
	}
}

func TestBoundedFactsPerDevice(t *testing.T) {
	inv, _ := Open(Options{MaxFacts: 4})
	for i := 0; i < 10; i++ {
		inv.Merge(obs(1, time.Duration(i)*time.Second, "wsd", "wsd.scope", fmt.Sprint("scope", i)))
	}
	d, _ := inv.Get(mac(1).String())
	if len(d.Facts) != 4 {
		t.Fatalf("%d facts kept, want 4", len(d.Facts))
	}
	if v, _ := d.Value("wsd.scope"); v != "scope9" {
		t.Fatalf("newest fact lost: %v", v)
	}
	if inv.Stats().FactsDropped != 6 {
		t.Fatalf("dropped %d", inv.Stats().FactsDropped)
	}
}

func TestPersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.db")
	inv, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	inv.Merge(obs(1, 0, "sadp", "sadp.model", "DS-2CD2385G1-I"))
	inv.Merge(obs(2, 0, "arp", "arp.op", "reply"))
	if err := inv.Flush(); err != nil {
		t.Fatal(err)
	}
	inv.Forget(mac(2).String())
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	inv2, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer inv2.Close()
	d, ok := inv2.Get(mac(1).String())
	if !ok || d.IP != netip.MustParseAddr("198.18.1.1") {
		t.Fatalf("device not restored: %+v", d)
	}
	if v, _ := d.Value("sadp.model"); v != "DS-2CD2385G1-I" {
		t.Fatalf("facts not restored: %+v", d.Facts)
	}
	if _, ok := inv2.Get(mac(2).String()); ok {
		t.Fatal("forgotten device came back after restart")
	}
	if m, ok := inv2.ResolveIP(netip.MustParseAddr("198.18.1.1")); !ok || m != mac(1).String() {
		t.Fatal("IP index not rebuilt")
	}
}

func TestExpire(t *testing.T) {
	inv, _ := Open(Options{})
	inv.Merge(obs(1, 0, "arp"))
	inv.Merge(obs(2, time.Hour, "arp"))
	gone := inv.Expire(t0.Add(30 * time.Minute))
	if len(gone) != 1 || gone[0] != mac(1).String() || inv.Len() != 1 {
		t.Fatalf("expired %v, left %d", gone, inv.Len())
	}
}

func BenchmarkMerge(b *testing.B) {
	inv, _ := Open(Options{MaxDevices: 5000})
	os := make([]probes.Observation, 1000)
	for i := range os {
		os[i] = obs(i, time.Duration(i), "dhcp", "dhcp.hostname", "cam", "dhcp.vendor_class", "udhcp 1.20.2")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv.Merge(os[i%len(os)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "obs/s")
}
