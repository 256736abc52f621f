package app

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/probes"
)

// A device already probed that later announces a service unasked gets a
// targeted round for it at once; a question it asks, our own probes'
// answers, and an announcement with nothing new do not.
func TestAnnouncementTriggersTargetedProbe(t *testing.T) {
	c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	p, _, _ := newTestPipeline(t, c)
	type call struct {
		mac   string
		names []string
	}
	var calls []call
	p.OnAnnounce = func(d inventory.Device, names []string) { calls = append(calls, call{d.MAC, names}) }
	ctx := context.Background()
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x21}
	ip := netip.MustParseAddr("198.18.1.21")
	obs := func(probe string, passive bool, kv ...string) probes.Observation {
		o := probes.Observation{Time: c.t, MAC: mac, IP: ip, Probe: probe, Passive: passive}
		for i := 0; i+1 < len(kv); i += 2 {
			o.Facts = append(o.Facts, probes.F(kv[i], kv[i+1]))
		}
		return o
	}
	step := func(o probes.Observation) { p.Sink(o); p.Drain(ctx) }

	step(obs("arp", true, "arp.op", "gratuitous")) // new device with an address: OnAddress's business
	step(obs("wsd", true, "wsd.msg", "probe"))     // it asks: nothing to probe
	step(obs("sadp", true, "sadp.seen", "inquiry"))
	step(obs("wsd", false, "wsd.msg", "probematch", "wsd.xaddr", "http://198.18.1.21:8899/onvif/device_service")) // our own probe's answer
	if len(calls) != 0 {
		t.Fatalf("announced %v", calls)
	}
	step(obs("wsd", true, "wsd.msg", "hello", "wsd.xaddr", "http://198.18.1.21:8080/onvif/device_service"))
	step(obs("wsd", true, "wsd.msg", "hello", "wsd.xaddr", "http://198.18.1.21:8080/onvif/device_service")) // nothing new
	step(obs("dhcp", true, "dhcp.msg", "request", "dhcp.hostname", "cam21"))
	if len(calls) != 2 || !slices.Contains(calls[0].names, "onvif") || !slices.Contains(calls[1].names, "http") {
		t.Fatalf("announce calls %v, want one for the Hello (onvif) and one for the DHCP REQUEST", calls)
	}
}
