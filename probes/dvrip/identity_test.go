package dvrip_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/dvrip"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
)

// A socket that answers the DVRIP search naming an Axis camera's MAC
// (IEEE prefix 00:40:8C) and another address makes one observation, of
// itself, with the names as facts.
func TestProbeClaimIsTheSendersFact(t *testing.T) {
	port := udpdisctest.StartFake(t, false, func(req []byte) []byte {
		if !dvrip.IsSearch(req) {
			return nil
		}
		r := dahuaReply()
		r.MAC, r.IP = "00:40:8c:12:34:56", netip.MustParseAddr("198.18.1.77")
		return r.Marshal()
	})
	emit, got := udpdisctest.Sink()
	if err := (&dvrip.Prober{Port: port, Timeout: time.Second}).Probe(context.Background(), probes.Target{IP: udpdisctest.Loopback, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, emit); err != nil {
		t.Fatal(err)
	}
	obs := got()
	if len(obs) != 1 {
		t.Fatalf("observations %+v", obs)
	}
	m := udpdisctest.FactMap(obs[0].Facts)
	if obs[0].IP != udpdisctest.Loopback || obs[0].MAC != nil || m["dvrip.mac"] != "00:40:8c:12:34:56" || m["dvrip.ipv4"] != "198.18.1.77" {
		t.Errorf("observation %+v", obs[0])
	}
}

// A search (broadcast or to one device, from either port) is a question:
// no observation and no maker for the host that sent it.
func TestDecoderSearchNamesNoMaker(t *testing.T) {
	emit, got := udpdisctest.Sink()
	for _, f := range []probes.Frame{
		{SrcPort: 50000, DstPort: dvrip.Port, DstIP: netip.MustParseAddr("198.18.1.255")},
		{SrcPort: dvrip.Port, DstPort: dvrip.Port, DstIP: netip.MustParseAddr("255.255.255.255")},
		{SrcPort: 50001, DstPort: dvrip.Port, DstIP: netip.MustParseAddr("198.18.1.10")},
	} {
		f.Src, f.SrcIP, f.IPProto, f.Payload = net.HardwareAddr{2, 0, 0, 0, 0, 0x42}, netip.MustParseAddr("198.18.1.2"), probes.ProtoUDP, dvrip.BuildSearch()
		if err := (dvrip.Decoder{}).Decode(&f, emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(got()) != 0 {
		t.Errorf("a search became observations: %+v", got())
	}
	udpdisctest.NoMaker(t, got())
}
