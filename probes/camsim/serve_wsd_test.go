package camsim

import (
	"context"
	"encoding/xml"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/wsd"
)

func loopLink(t *testing.T) probes.Link {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return probes.Link{Iface: &i, Addr: netip.MustParseAddr("127.0.0.1")}
		}
	}
	t.Skip("no loopback interface")
	return probes.Link{}
}

func TestWSDTargetExpandsProfile(t *testing.T) {
	p, err := Lookup("hikvision")
	if err != nil {
		t.Fatal(err)
	}
	h := Host{IP: netip.MustParseAddr("198.18.1.10"), MAC: p.MAC(1)}
	tg := WSDTarget(&p, h)
	if tg.Address != "urn:uuid:3fa1fe68-b915-4053-a3e1-5850edc40001" {
		t.Errorf("endpoint %s", tg.Address)
	}
	if !slices.Equal(tg.XAddrs, []string{"http://198.18.1.10/onvif/device_service"}) {
		t.Errorf("xaddrs %v", tg.XAddrs)
	}
	if !slices.Contains(tg.Scopes, "onvif://www.onvif.org/MAC/5850edc40001") || !slices.Contains(tg.Scopes, "onvif://www.onvif.org/hardware/DS-2CD2385G1-I") {
		t.Errorf("scopes %v", tg.Scopes)
	}
}

// Each WS-Discovery profile on loopback: only_nvt profiles ignore the
// untyped Probe, the others answer every variant once after dedupe.
func TestServeWSDProfiles(t *testing.T) {
	ps, err := Profiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, full := range ps {
		if full.WSD == nil {
			continue
		}
		p := Profile{Name: full.Name, Model: full.Model, OUI: full.OUI, WSD: full.WSD}
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			h := Host{IP: netip.MustParseAddr("127.0.0.1"), MAC: p.MAC(1), PortOffset: freeOffset(t, wsd.Port)}
			defer Start(p, h, nil)()
			time.Sleep(100 * time.Millisecond)
			group := netip.AddrPortFrom(h.IP, uint16(h.Port(wsd.Port)))
			for _, untyped := range []bool{false, true} {
				d := &wsd.Discoverer{Group: group, Wait: 300 * time.Millisecond}
				if untyped {
					d.Probes = [][]xmlName{nil}
				} else {
					d.Probes = [][]xmlName{{wsd.TypeNVT}}
				}
				var obs []probes.Observation
				if err := d.Discover(context.Background(), loopLink(t), func(o probes.Observation) { obs = append(obs, o) }); err != nil {
					t.Fatal(err)
				}
				want := 1
				if untyped && p.WSD.OnlyNVT {
					want = 0
				}
				if len(obs) != want {
					t.Fatalf("untyped=%v: %d observations, want %d", untyped, len(obs), want)
				}
				if want == 1 {
					f := obsFacts(obs)
					if f["wsd.endpoint"][0] != p.Expand(p.WSD.Endpoint, h.MAC) || !strings.Contains(f["wsd.types"][0], "NetworkVideoTransmitter") {
						t.Errorf("facts %v", f)
					}
				}
			}
		})
	}
}

type xmlName = xml.Name
