package sadp_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/sadp"
)

// An Axis camera's MAC (Axis's IEEE prefix 00:40:8C) and another host's
// address: what a reply claims on behalf of a device that never spoke SADP.
const (
	axisMAC   = "00:40:8c:12:34:56"
	claimedIP = "198.18.1.77"
)

// claimingReply answers every inquiry with a ProbeMatch echoing its Uuid
// and naming mac and ip, as any UDP socket on the segment can.
func claimingReply(mac, ip string) func(req []byte) []byte {
	return func(req []byte) []byte {
		q, err := sadp.ParseInquiry(req)
		if err != nil {
			return nil
		}
		r := hikReply()
		r.UUID, r.MAC, r.IPv4Address = q.UUID, mac, ip
		return r.Marshal()
	}
}

// checkClaim asserts the one observation is the sender's (its address, no
// MAC) and carries the claims as facts.
func checkClaim(t *testing.T, obs []probes.Observation, sender netip.Addr) {
	t.Helper()
	if len(obs) != 1 {
		t.Fatalf("want exactly one observation, for the sender; got %d: %+v", len(obs), obs)
	}
	o := obs[0]
	m := udpdisctest.FactMap(o.Facts)
	if o.IP != sender || o.MAC != nil || m["sadp.mac"] != axisMAC || m["sadp.ipv4"] != claimedIP || m["sadp.seen"] != "reply" {
		t.Errorf("observation %+v: want IP %s, no MAC, sadp.mac=%s and sadp.ipv4=%s as facts", o, sender, axisMAC, claimedIP)
	}
}

// A socket that answers the appliance's own SADP discovery naming an Axis
// camera's MAC and another address makes one observation, of itself: none
// for the MAC it names, none for the address.
func TestDiscoverClaimIsTheSendersFact(t *testing.T) {
	port := udpdisctest.StartFake(t, false, claimingReply(axisMAC, claimedIP))
	emit, got := udpdisctest.Sink()
	d := &sadp.Discoverer{Group: net.IPv4(127, 0, 0, 1), Port: port, NoGroupListen: true, Timeout: 400 * time.Millisecond}
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
	p := &sadp.Prober{Port: port, NoGroup: true, Timeout: time.Second}
	if err := p.Probe(context.Background(), probes.Target{IP: udpdisctest.Loopback, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, emit); err != nil {
		t.Fatal(err)
	}
	checkClaim(t, got(), udpdisctest.Loopback)
}

// One sender naming a different MAC in each reply is one device making
// several claims: still one observation, never one per MAC.
func TestDiscoverManyClaimsOneSender(t *testing.T) {
	n := 0
	port := udpdisctest.StartFake(t, false, func(req []byte) []byte {
		n++
		return claimingReply(net.HardwareAddr{0x00, 0x40, 0x8c, 0, 0, byte(n)}.String(), claimedIP)(req)
	})
	emit, got := udpdisctest.Sink()
	d := &sadp.Discoverer{Group: net.IPv4(127, 0, 0, 1), Port: port, NoGroupListen: true, Sends: 3, Interval: 50 * time.Millisecond, Timeout: 400 * time.Millisecond}
	l := probes.Link{Addr: udpdisctest.Loopback, Subnets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	if err := d.Discover(context.Background(), l, emit); err != nil {
		t.Fatal(err)
	}
	if obs := got(); len(obs) != 1 || obs[0].MAC != nil || obs[0].IP != udpdisctest.Loopback {
		t.Errorf("observations %+v", obs)
	}
}

// The passive decoder attributes a reply to the frame's source MAC and
// address, whatever the reply names; the names are facts.
func TestDecoderClaimIsTheSendersFact(t *testing.T) {
	src := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	r := hikReply()
	r.MAC, r.IPv4Address = "00-40-8C-12-34-56", claimedIP
	f := &probes.Frame{
		Src: src, SrcIP: netip.MustParseAddr("198.18.1.99"), DstIP: netip.MustParseAddr("239.255.255.250"),
		IPProto: probes.ProtoUDP, SrcPort: sadp.Port, DstPort: sadp.Port, Payload: r.Marshal(),
	}
	emit, got := udpdisctest.Sink()
	if err := (sadp.Decoder{}).Decode(f, emit); err != nil {
		t.Fatal(err)
	}
	obs := got()
	if len(obs) != 1 || obs[0].MAC.String() != src.String() || obs[0].IP != f.SrcIP {
		t.Fatalf("observations %+v", obs)
	}
	if m := udpdisctest.FactMap(obs[0].Facts); m["sadp.mac"] != axisMAC || m["sadp.ipv4"] != claimedIP {
		t.Errorf("facts %v", m)
	}
}

// Asking is not answering: a host that sends inquiries (the SADP tool, an
// NVR, the installer's laptop, another appliance) is recorded as having
// asked, and that names no maker. Its frames may come from the SADP port
// or an ephemeral one, to the group or to a device.
func TestDecoderInquiryNamesNoMaker(t *testing.T) {
	emit, got := udpdisctest.Sink()
	for _, f := range []probes.Frame{
		{SrcPort: 50000, DstPort: sadp.Port, DstIP: netip.MustParseAddr("239.255.255.250")},
		{SrcPort: sadp.Port, DstPort: sadp.Port, DstIP: netip.MustParseAddr("239.255.255.250")},
		{SrcPort: 50001, DstPort: sadp.Port, DstIP: netip.MustParseAddr("198.18.1.10")},
	} {
		f.Src, f.SrcIP, f.IPProto = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}, netip.MustParseAddr("198.18.1.2"), probes.ProtoUDP
		f.Payload = sadp.BuildInquiry(sadp.NewUUID())
		if err := (sadp.Decoder{}).Decode(&f, emit); err != nil {
			t.Fatal(err)
		}
	}
	obs := got()
	if len(obs) != 3 {
		t.Fatalf("observations %+v", obs)
	}
	for _, o := range obs {
		if m := udpdisctest.FactMap(o.Facts); m["sadp.seen"] != "inquiry" || len(m) != 1 {
			t.Errorf("inquiry recorded as %v", m)
		}
	}
	udpdisctest.NoMaker(t, obs)
}
