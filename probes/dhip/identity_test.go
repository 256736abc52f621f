package dhip_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/dhip"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
)

// An Axis camera's MAC (Axis's IEEE prefix 00:40:8C) and another host's
// address: what a reply claims on behalf of a device that never spoke DHIP.
const (
	axisMAC   = "00:40:8c:12:34:56"
	claimedIP = "198.18.1.77"
)

// claimingReply answers every search with a notifyDevInfo naming mac and
// ip, as any UDP socket on the segment can.
func claimingReply(mac, ip string) func(req []byte) []byte {
	return func(req []byte) []byte {
		if m, err := dhip.Parse(req); err != nil || m.Method != dhip.MethodSearch {
			return nil
		}
		r := dahuaReply()
		r.MAC, r.IPv4Address = mac, ip
		return r.Marshal()
	}
}

func checkClaim(t *testing.T, obs []probes.Observation, sender netip.Addr) {
	t.Helper()
	if len(obs) != 1 {
		t.Fatalf("want exactly one observation, for the sender; got %d: %+v", len(obs), obs)
	}
	o := obs[0]
	m := udpdisctest.FactMap(o.Facts)
	if o.IP != sender || o.MAC != nil || m["dhip.mac"] != axisMAC || m["dhip.ipv4"] != claimedIP || m["dhip.seen"] != "reply" {
		t.Errorf("observation %+v: want IP %s, no MAC, dhip.mac=%s and dhip.ipv4=%s as facts", o, sender, axisMAC, claimedIP)
	}
}

// A socket that answers the appliance's DHIP discovery naming an Axis
// camera's MAC and another address makes one observation, of itself.
func TestDiscoverClaimIsTheSendersFact(t *testing.T) {
	port := udpdisctest.StartFake(t, false, claimingReply(axisMAC, claimedIP))
	emit, got := udpdisctest.Sink()
	d := &dhip.Discoverer{Group: net.IPv4(127, 0, 0, 1), Port: port, NoGroupListen: true, Timeout: 400 * time.Millisecond}
	l := probes.Link{Addr: udpdisctest.Loopback, Subnets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	if err := d.Discover(context.Background(), l, emit); err != nil {
		t.Fatal(err)
	}
	checkClaim(t, got(), udpdisctest.Loopback)
}

// The same claim made to the unicast Prober.
func TestProbeClaimIsTheSendersFact(t *testing.T) {
	port := udpdisctest.StartFake(t, false, claimingReply(axisMAC, claimedIP))
	emit, got := udpdisctest.Sink()
	p := &dhip.Prober{Port: port, Timeout: time.Second}
	if err := p.Probe(context.Background(), probes.Target{IP: udpdisctest.Loopback, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, emit); err != nil {
		t.Fatal(err)
	}
	checkClaim(t, got(), udpdisctest.Loopback)
}

// The passive decoder attributes a reply to the frame's source, whatever
// the reply names; a search names nothing and no maker.
func TestDecoderClaimAndSearch(t *testing.T) {
	src := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	r := dahuaReply()
	r.MAC, r.IPv4Address = axisMAC, claimedIP
	reply := &probes.Frame{
		Src: src, SrcIP: netip.MustParseAddr("198.18.1.99"), DstIP: netip.MustParseAddr("198.18.1.2"),
		IPProto: probes.ProtoUDP, SrcPort: dhip.Port, DstPort: 50000, Payload: r.Marshal(),
	}
	emit, got := udpdisctest.Sink()
	if err := (dhip.Decoder{}).Decode(reply, emit); err != nil {
		t.Fatal(err)
	}
	obs := got()
	if len(obs) != 1 || obs[0].MAC.String() != src.String() || obs[0].IP != reply.SrcIP {
		t.Fatalf("observations %+v", obs)
	}
	if m := udpdisctest.FactMap(obs[0].Facts); m["dhip.mac"] != axisMAC || m["dhip.ipv4"] != claimedIP {
		t.Errorf("facts %v", m)
	}

	// Searches, to the group and to one device, from the DHIP port and an
	// ephemeral one: Dahua's ConfigTool, an NVR, another appliance.
	emit, got = udpdisctest.Sink()
	for _, f := range []probes.Frame{
		{SrcPort: 50000, DstPort: dhip.Port, DstIP: netip.MustParseAddr("239.255.255.251")},
		{SrcPort: dhip.Port, DstPort: dhip.Port, DstIP: netip.MustParseAddr("239.255.255.251")},
		{SrcPort: 50001, DstPort: dhip.Port, DstIP: netip.MustParseAddr("198.18.1.10")},
	} {
		f.Src, f.SrcIP, f.IPProto, f.Payload = src, netip.MustParseAddr("198.18.1.2"), probes.ProtoUDP, dhip.BuildSearch()
		if err := (dhip.Decoder{}).Decode(&f, emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(got()) != 0 {
		t.Errorf("a search became observations: %+v", got())
	}
	udpdisctest.NoMaker(t, got())
}
