package camsim

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/onvif"
	"github.com/camwarden/camwarden/probes/wsd"
)

// onvifOnly keeps the sections this test is about, so it does not depend
// on the other responders.
func onvifOnly(p Profile) Profile {
	q := Profile{Name: p.Name, Maker: p.Maker, Model: p.Model, Serial: p.Serial, Firmware: p.Firmware, OUI: p.OUI, HTTP: p.HTTP, ONVIF: p.ONVIF, WSD: p.WSD}
	return q
}

func obsFacts(obs []probes.Observation) map[string][]string {
	m := map[string][]string{}
	for _, o := range obs {
		for _, f := range o.Facts {
			m[f.Key] = append(m[f.Key], f.Value)
		}
	}
	return m
}

// Every ONVIF profile, served on loopback (mounted on its web server or on
// its own listener), answers the appliance's prober with the profile's
// ground truth, in the profile's auth mode and clock.
func TestServeONVIFProfiles(t *testing.T) {
	ps, err := Profiles()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, full := range ps {
		if full.ONVIF == nil {
			continue
		}
		n++
		p := onvifOnly(full)
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			h := startProfile(t, p, onvifPort(&p))
			tg := probes.Target{IP: h.IP}
			if p.WSD != nil {
				for _, x := range WSDTarget(&p, h).XAddrs {
					tg.Facts = append(tg.Facts, probes.F("wsd.xaddr", x))
				}
			} else {
				tg.Facts = append(tg.Facts, probes.F("wsd.xaddr", fmt.Sprintf("http://127.0.0.1:%d%s", h.Port(onvifPort(&p)), onvifPath(&p))))
			}
			creds := []onvif.Credential{{User: "admin", Password: "not-it"}, {User: p.ONVIF.User, Password: p.ONVIF.Password}}
			var obs []probes.Observation
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := (&onvif.Prober{Creds: creds}).Probe(ctx, tg, func(o probes.Observation) { obs = append(obs, o) }); err != nil {
				t.Fatal(err)
			}
			f := obsFacts(obs)
			wantAuth := string(onvifAuth(p.ONVIF.Auth))
			if p.ONVIF.User == "" || wantAuth == "none" {
				wantAuth = "none-needed"
			}
			if !slices.Equal(f["onvif.manufacturer"], []string{p.ONVIF.Manufacturer}) || !slices.Equal(f["onvif.serial"], []string{p.Serial}) ||
				!slices.Equal(f["onvif.auth"], []string{wantAuth}) || !slices.Equal(f["onvif.mac"], []string{h.MAC.String()}) {
				t.Errorf("facts %v", f)
			}
			if got := f["onvif.clock_offset"]; len(got) != 1 || !nearOffset(got[0], p.ONVIF.ClockOffset) {
				t.Errorf("clock_offset %v, want %s ± 1s", got, p.ONVIF.ClockOffset)
			}
		})
	}
	if n == 0 {
		t.Fatal("no ONVIF profiles")
	}
}

// The chain the appliance runs: WS-Discovery finds the camera, its XAddr
// leads the ONVIF prober to the device service.
func TestWSDThenONVIFLoopback(t *testing.T) {
	full, err := Lookup("hikvision")
	if err != nil {
		t.Fatal(err)
	}
	p := onvifOnly(full)
	p.WSD.Twice, p.WSD.EphemeralReply = true, true
	h := startProfile(t, p, 80)
	// the UDP responder may start after the TCP one: retry briefly
	var obs []probes.Observation
	for i := 0; i < 3 && len(obs) == 0; i++ {
		d := &wsd.Discoverer{Group: netip.AddrPortFrom(h.IP, uint16(h.Port(wsd.Port))), Wait: 400 * time.Millisecond}
		if err := d.Discover(context.Background(), loopLink(t), func(o probes.Observation) { obs = append(obs, o) }); err != nil {
			t.Fatal(err)
		}
	}
	if len(obs) != 1 {
		t.Fatalf("%d observations, want 1: %+v", len(obs), obs)
	}
	f := obsFacts(obs)
	if !slices.Equal(f["wsd.mac"], []string{h.MAC.String()}) || !slices.Equal(f["wsd.hardware"], []string{p.Model}) || !slices.Equal(f["wsd.name"], []string{"HIKVISION"}) {
		t.Errorf("wsd facts %v", f)
	}
	tg := probes.Target{IP: obs[0].IP, Facts: obs[0].Facts}
	var ob2 []probes.Observation
	if err := (&onvif.Prober{Creds: []onvif.Credential{{User: "admin", Password: "Hik12345!"}}}).Probe(context.Background(), tg, func(o probes.Observation) { ob2 = append(ob2, o) }); err != nil {
		t.Fatal(err)
	}
	if f := obsFacts(ob2); !slices.Equal(f["onvif.model"], []string{p.Model}) || (len(f["onvif.clock_offset"]) != 1 || !nearOffset(f["onvif.clock_offset"][0], 3*time.Hour)) {
		t.Errorf("onvif facts %v", f)
	}
}

// nearOffset accepts a measured clock offset within a second of want: the
// camera reports whole seconds, so a request crossing a second boundary
// (common under emulation or load) reads one second off.
func nearOffset(got string, want time.Duration) bool {
	d, err := time.ParseDuration(got)
	if err != nil {
		return false
	}
	return (d - want).Abs() <= time.Second
}
