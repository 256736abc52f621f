package app

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report/reporttest"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
)

// factClassifier is a test double standing in for the signature engine: a
// device that reported sadp.model is Hikvision-made, definitively.
func factClassifier(_ net.HardwareAddr, facts []probes.Fact) classify.Verdict {
	for _, f := range facts {
		if f.Key == "sadp.model" {
			return classify.Verdict{Maker: "hikvision", Model: f.Value, Confidence: classify.Definitive,
				Evidence: []classify.Evidence{{Probe: "sadp", Detail: "answered SADP", Strength: classify.Definitive}}}
		}
	}
	return classify.Verdict{}
}

type recEnforcer struct {
	mu      sync.Mutex
	updates []string
	policy  enforce.Policy
}

func (r *recEnforcer) Policy() enforce.Policy { return r.policy }

func (r *recEnforcer) Update(d enforce.Device, present bool) enforce.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := d.MAC + " absent"
	if present {
		s = d.MAC + " present"
	}
	r.updates = append(r.updates, s)
	return enforce.Decide(r.policy, d, time.Now())
}
func (r *recEnforcer) Forget(mac string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, mac+" forgotten")
}

func (r *recEnforcer) Gone(mac string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, mac+" gone")
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestPipeline(t *testing.T, c *clock) (*Pipeline, *reporttest.Recorder, *recEnforcer) {
	inv, err := inventory.Open(inventory.Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	rec, enf := &reporttest.Recorder{}, &recEnforcer{policy: enforce.DefaultPolicy()}
	p := NewPipeline(&Pipeline{Inv: inv, Classify: factClassifier, Enforcer: enf, Reporter: rec,
		GoneAfter: time.Minute, Now: c.now})
	return p, rec, enf
}

var cam = net.HardwareAddr{0x58, 0x50, 0xed, 0, 0, 1}

func camObs(c *clock, probe string, kv ...string) probes.Observation {
	o := probes.Observation{Time: c.t, MAC: cam, IP: netip.MustParseAddr("198.18.1.10"), Probe: probe}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Facts = append(o.Facts, probes.F(kv[i], kv[i+1]))
	}
	return o
}

func TestPipelineReportsChangesOnceAndFlags(t *testing.T) {
	c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	p, rec, _ := newTestPipeline(t, c)
	// Without an enforcer the pipeline reports device_flagged itself.
	p.Enforcer = nil
	p.SetPolicy(enforce.DefaultPolicy())
	var newHosts []string
	p.OnAddress = func(d inventory.Device) { newHosts = append(newHosts, d.MAC) }
	ctx := context.Background()

	p.Sink(camObs(c, "arp", "arp.op", "gratuitous"))
	p.Sink(camObs(c, "arp", "arp.op", "gratuitous"))
	p.Drain(ctx)
	if len(rec.Devices) != 1 || rec.Devices[0].Flagged || rec.Devices[0].Maker != "" {
		t.Fatalf("after ARP: %+v", rec.Devices)
	}
	if !slices.Equal(newHosts, []string{cam.String()}) {
		t.Fatalf("OnAddress calls %v", newHosts)
	}
	p.Sink(camObs(c, "sadp", "sadp.model", "DS-2CD2385G1-I"))
	p.Drain(ctx)
	if len(rec.Devices) != 2 {
		t.Fatalf("devices reported %d, want 2", len(rec.Devices))
	}
	d := rec.Devices[1]
	if !d.Flagged || d.Maker != "hikvision" || d.Confidence != "definitive" || d.Action != "alert" || d.IP != "198.18.1.10" {
		t.Fatalf("flagged view wrong: %+v", d)
	}
	if got := rec.EventTypes(); !slices.Equal(got, []string{"device_new", "device_flagged"}) {
		t.Fatalf("events %v", got)
	}
	// Same facts again: nothing new to say.
	p.Sink(camObs(c, "sadp", "sadp.model", "DS-2CD2385G1-I"))
	p.Drain(ctx)
	if len(rec.Devices) != 2 || len(rec.Events) != 2 {
		t.Fatalf("repeat reported again: %d devices %d events", len(rec.Devices), len(rec.Events))
	}
	// A policy that isolates Hikvision changes the action: re-reported and re-flagged.
	pol := enforce.DefaultPolicy()
	pol.Actions = map[string]enforce.Action{"hikvision": enforce.ActionIsolate}
	p.SetPolicy(pol)
	p.Republish(ctx)
	if last := rec.Devices[len(rec.Devices)-1]; last.Action != "isolate" {
		t.Fatalf("policy change not applied: %+v", last)
	}
	if got := rec.EventTypes(); got[len(got)-1] != "device_flagged" {
		t.Fatalf("no device_flagged after the action changed: %v", got)
	}
}

func TestPipelinePresenceAndForget(t *testing.T) {
	c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	p, rec, enf := newTestPipeline(t, c)
	ctx := context.Background()
	p.Sink(camObs(c, "sadp", "sadp.model", "DS-2CD2385G1-I"))
	p.Drain(ctx)
	c.t = c.t.Add(2 * time.Minute)
	p.sweepPresence(ctx, time.Hour)
	c.t = c.t.Add(2 * time.Hour)
	p.sweepPresence(ctx, time.Hour)
	want := []string{cam.String() + " present", cam.String() + " absent", cam.String() + " gone"}
	if !slices.Equal(enf.updates, want) {
		t.Fatalf("enforcer saw %v, want %v", enf.updates, want)
	}
	if !slices.Equal(rec.Forgot, []string{cam.String()}) || rec.EventTypes()[len(rec.Events)-1] != "device_gone" {
		t.Fatalf("forget not reported: %v %v", rec.Forgot, rec.EventTypes())
	}
	if p.Inv.Len() != 0 {
		t.Fatal("device still in inventory")
	}
}

func TestSinkNeverBlocks(t *testing.T) {
	c := &clock{time.Now()}
	p, _, _ := newTestPipeline(t, c)
	for range QueueSize + 10 {
		p.Sink(camObs(c, "arp"))
	}
	if p.Dropped() != 10 {
		t.Fatalf("dropped %d, want 10", p.Dropped())
	}
}

func TestIPOnlyObservationWaitsForItsMAC(t *testing.T) {
	c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	p, rec, _ := newTestPipeline(t, c)
	ctx := context.Background()
	early := camObs(c, "sadp", "sadp.model", "DS-2CD2385G1-I")
	early.MAC = nil // a UDP answer: IP only
	p.Sink(early)
	p.Drain(ctx)
	if len(rec.Devices) != 0 {
		t.Fatalf("reported before the MAC was known: %+v", rec.Devices)
	}
	p.Sink(camObs(c, "arp", "arp.sweep", "reply"))
	p.Drain(ctx)
	last := rec.Devices[len(rec.Devices)-1]
	if last.Maker != "hikvision" || last.MAC != cam.String() {
		t.Fatalf("held observation not applied once the IP resolved: %+v", last)
	}
}

// A device first seen without an IPv4 address (IPv6 ND, MLD, LLDP) is handed
// to the prober the moment it has one, not when its first frame arrived (a
// probe queued then had nowhere to go and was dropped for good).
func TestDeviceSeenFirstWithoutIPv4IsProbedOnceAddressed(t *testing.T) {
	c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	p, _, _ := newTestPipeline(t, c)
	var addressed []string
	p.OnAddress = func(d inventory.Device) { addressed = append(addressed, d.MAC+" "+d.IP.String()) }
	ctx := context.Background()
	p.Sink(probes.Observation{Time: c.t, MAC: cam, Probe: "ipv6", Facts: []probes.Fact{probes.F("ipv6.eui64", cam.String())}})
	p.Sink(probes.Observation{Time: c.t, MAC: cam, Probe: "lldp", Facts: []probes.Fact{probes.F("lldp.system_name", "cam")}})
	p.Drain(ctx)
	if len(addressed) != 0 {
		t.Fatalf("handed to the prober without an address: %v", addressed)
	}
	p.Sink(camObs(c, "arp", "arp.op", "gratuitous"))
	p.Sink(camObs(c, "arp", "arp.op", "gratuitous"))
	p.Drain(ctx)
	if want := []string{cam.String() + " 198.18.1.10"}; !slices.Equal(addressed, want) {
		t.Fatalf("OnAddress calls %v, want %v", addressed, want)
	}
}

// A probe cannot state identity.* facts: only the pipeline decides that a
// sender speaks for another device.
func TestProbeCannotStateIdentityFacts(t *testing.T) {
	c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	p, _, _ := newTestPipeline(t, c)
	o := camObs(c, "http", "http.server", "x", classify.FactClaimsOther, "forged", "http.title", "y")
	p.Sink(o)
	p.Drain(context.Background())
	d, _ := p.Inv.Get(cam.String())
	if _, ok := d.Value(classify.FactClaimsOther); ok {
		t.Fatal("a probe's identity fact reached the inventory")
	}
	if v, _ := d.Value("http.title"); v != "y" {
		t.Fatalf("facts after the stripped one lost: %+v", d.Facts)
	}
	if o.Facts[1].Key != classify.FactClaimsOther {
		t.Fatal("the probe's own slice was modified")
	}
}

// A reply that names another device's MAC or IP marks its sender, whichever
// of the two the pipeline meets first, and never gives the named device the
// sender's facts; a payload MAC nobody holds is only a fact.
func TestClaimOfAnotherDeviceMarksTheSender(t *testing.T) {
	axis := net.HardwareAddr{0xac, 0xcc, 0x8e, 0, 0, 9}
	pc := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	axisIP, pcIP := netip.MustParseAddr("198.18.1.20"), netip.MustParseAddr("198.18.1.30")
	reply := func(c *clock, kv ...string) probes.Observation {
		o := probes.Observation{Time: c.t, IP: pcIP, Probe: "sadp", Facts: []probes.Fact{probes.F("sadp.seen", "reply")}}
		for i := 0; i+1 < len(kv); i += 2 {
			o.Facts = append(o.Facts, probes.F(kv[i], kv[i+1]))
		}
		return o
	}
	for _, tc := range []struct {
		name       string
		claim      []string
		axisFirst  bool
		wantMarked bool
	}{
		{"names the Axis MAC, Axis known", []string{"sadp.mac", axis.String()}, true, true},
		{"names the Axis MAC, Axis seen later", []string{"sadp.mac", "AC-CC-8E-00-00-09"}, false, true},
		{"names the Axis IP", []string{"sadp.ipv4", axisIP.String()}, true, true},
		{"names the Axis IP, Axis seen later", []string{"sadp.ipv4", axisIP.String()}, false, true},
		{"names a MAC nobody holds", []string{"sadp.mac", "02:12:34:56:78:9a"}, true, false},
		{"names its own addresses", []string{"sadp.mac", pc.String(), "sadp.ipv4", pcIP.String()}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
			p, _, _ := newTestPipeline(t, c)
			ctx := context.Background()
			axisObs := probes.Observation{Time: c.t, MAC: axis, IP: axisIP, Probe: "arp", Facts: []probes.Fact{probes.F("arp.op", "reply")}}
			p.Sink(probes.Observation{Time: c.t, MAC: pc, IP: pcIP, Probe: "arp", Facts: []probes.Fact{probes.F("arp.op", "reply")}})
			if tc.axisFirst {
				p.Sink(axisObs)
			}
			p.Sink(reply(c, tc.claim...))
			if !tc.axisFirst {
				p.Sink(axisObs)
			}
			p.Drain(ctx)
			pcDev, _ := p.Inv.Get(pc.String())
			_, marked := pcDev.Value(classify.FactClaimsOther)
			if marked != tc.wantMarked {
				t.Fatalf("sender marked = %v, want %v (facts %+v)", marked, tc.wantMarked, pcDev.Facts)
			}
			if p.Inv.Len() != 2 {
				t.Fatalf("%d devices, want the two real ones (no phantom)", p.Inv.Len())
			}
			ax, _ := p.Inv.Get(axis.String())
			for _, f := range ax.Facts {
				if strings.HasPrefix(f.Key, "sadp.") || strings.HasPrefix(f.Key, "identity.") {
					t.Fatalf("the named device got the sender's fact %v", f)
				}
			}
			if marked {
				v := classify.Classify(nil, classify.Input{MAC: pcDev.HardwareAddr(), Facts: pcDev.ProbeFacts()})
				if !v.Undetermined() || v.Maker != "" {
					t.Fatalf("marked sender's verdict: maker %q review %q", v.Maker, v.Review)
				}
			}
		})
	}
}

// When the inventory evicts a device for room, the pipeline's views and
// presence, the enforcer and the retained report follow; a flood of
// one-frame MACs evicts them before an identified, flagged device.
func TestEvictionIsFollowedAndKeepsFlagged(t *testing.T) {
	c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	var p *Pipeline
	inv, err := inventory.Open(inventory.Options{MaxDevices: 4, Now: c.now,
		OnEvict: func(mac string) { p.Evicted(context.Background(), mac) }})
	if err != nil {
		t.Fatal(err)
	}
	rec, enf := &reporttest.Recorder{}, &recEnforcer{policy: enforce.DefaultPolicy()}
	p = NewPipeline(&Pipeline{Inv: inv, Classify: factClassifier, Enforcer: enf, Reporter: rec, GoneAfter: time.Minute, Now: c.now})
	ctx := context.Background()
	p.Sink(camObs(c, "sadp", "sadp.model", "DS-2CD2385G1-I")) // flagged (alert)
	p.Drain(ctx)
	for i := range 50 {
		c.t = c.t.Add(time.Second)
		p.Sink(probes.Observation{Time: c.t, MAC: net.HardwareAddr{0x02, 0, 0, 0, 1, byte(i)}, Probe: "arp",
			Facts: []probes.Fact{probes.F("arp.op", "request")}})
		p.Drain(ctx)
	}
	if _, ok := inv.Get(cam.String()); !ok {
		t.Fatal("the flagged camera was evicted by a flood of one-frame MACs")
	}
	if inv.Len() != 4 || len(p.Views()) != 4 {
		t.Fatalf("inventory %d, views %d: per-device state does not follow evictions", inv.Len(), len(p.Views()))
	}
	if len(rec.Forgot) != 47 {
		t.Fatalf("%d retained device states cleared, want the 47 evicted (51 devices, room for 4)", len(rec.Forgot))
	}
	forgotten := 0
	for _, u := range enf.updates {
		if strings.HasSuffix(u, " forgotten") {
			forgotten++
		}
	}
	if forgotten != 47 {
		t.Fatalf("enforcer forgot %d devices, want 47", forgotten)
	}
}
