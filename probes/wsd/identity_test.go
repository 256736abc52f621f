package wsd_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/wsd"
)

// A Probe says what its sender is looking for. One that asks for ONVIF
// cameras scoped name/HIKVISION (as a VMS filtering by maker might) names
// no maker for the client that sent it, whether it went to the group or
// straight to one camera, from 3702 or an ephemeral port.
func TestDecoderProbeNamesNoMaker(t *testing.T) {
	typed := string(wsd.BuildProbe("urn:uuid:0f5d4c2e-0000-4000-8000-000000000001", wsd.TypeNVT))
	scoped := strings.Replace(typed, "</wsd:Types>",
		"</wsd:Types><wsd:Scopes>onvif://www.onvif.org/name/HIKVISION onvif://www.onvif.org/hardware/DS-2CD2385G1-I onvif://www.onvif.org/MAC/58:50:ed:1f:e3:85</wsd:Scopes>", 1)
	if !strings.Contains(scoped, "<wsd:Scopes>") {
		t.Fatal("could not build the scoped Probe")
	}
	emit, got := udpdisctest.Sink()
	for i, f := range []probes.Frame{
		{SrcPort: 50000, DstPort: wsd.Port, DstIP: netip.MustParseAddr("239.255.255.250"), Payload: []byte(typed)},
		{SrcPort: wsd.Port, DstPort: wsd.Port, DstIP: netip.MustParseAddr("239.255.255.250"), Payload: []byte(scoped)},
		{SrcPort: 50001, DstPort: wsd.Port, DstIP: netip.MustParseAddr("198.18.1.10"), Payload: []byte(scoped)},
		{SrcPort: 50002, DstPort: wsd.Port, DstIP: netip.MustParseAddr("239.255.255.250"), Payload: wsd.BuildProbe("urn:uuid:0f5d4c2e-0000-4000-8000-000000000002")},
	} {
		f.Src, f.SrcIP, f.IPProto = net.HardwareAddr{2, 0, 0, 0, 0, 0x42}, netip.MustParseAddr("198.18.1.2"), probes.ProtoUDP
		if err := (wsd.Decoder{}).Decode(&f, emit); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	obs := got()
	if len(obs) != 4 {
		t.Fatalf("want each Probe recorded once, got %+v", obs)
	}
	for _, o := range obs {
		if m := udpdisctest.FactMap(o.Facts); len(m) != 1 || m["wsd.msg"] != "probe" {
			t.Errorf("a Probe's sender got %v", m)
		}
	}
	udpdisctest.NoMaker(t, obs)
}

// The MAC an endpoint names is a claim in one form; the all-zero MAC some
// firmware puts in its scope names no device and is left out.
func TestEndpointMACClaim(t *testing.T) {
	for scope, want := range map[string]string{
		"onvif://www.onvif.org/MAC/5850ED1FE385":      "58:50:ed:1f:e3:85",
		"onvif://www.onvif.org/mac/58-50-ed-1f-e3-85": "58:50:ed:1f:e3:85",
		"onvif://www.onvif.org/MAC/000000000000":      "",
		"onvif://www.onvif.org/MAC/00:00:00:00:00:00": "",
	} {
		m := udpdisctest.FactMap(wsd.Endpoint{Address: "urn:uuid:x", Scopes: []string{scope}}.Facts())
		if m["wsd.mac"] != want {
			t.Errorf("%s: wsd.mac %q, want %q", scope, m["wsd.mac"], want)
		}
	}
}
