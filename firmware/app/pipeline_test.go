package app

import (
	"context"
	"net"
	"net/netip"
	"slices"
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
	p.OnNew = func(d inventory.Device) { newHosts = append(newHosts, d.MAC) }
	ctx := context.Background()

	p.Sink(camObs(c, "arp", "arp.op", "gratuitous"))
	p.Sink(camObs(c, "arp", "arp.op", "gratuitous"))
	p.Drain(ctx)
	if len(rec.Devices) != 1 || rec.Devices[0].Flagged || rec.Devices[0].Maker != "" {
		t.Fatalf("after ARP: %+v", rec.Devices)
	}
	if !slices.Equal(newHosts, []string{cam.String()}) {
		t.Fatalf("OnNew calls %v", newHosts)
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
