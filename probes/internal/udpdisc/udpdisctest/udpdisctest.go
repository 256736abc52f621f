// Package udpdisctest is the loopback test harness of the UDP discovery
// protocols (sadp, dhip, dvrip, ssdp): a responder or fake device on
// 127.0.0.1, an observation sink, and the checks every prober must pass
// against hostile or silent devices. Each protocol's tests still supply
// their own replies and assertions; this package only runs them.
//
// It is for tests only and must not touch anything but loopback sockets
// (the namespace-lab helpers live in the labdisc subpackage, which scripts/lab
// would make an import cycle here).
package udpdisctest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
)

// Loopback is where every device of this package listens.
var Loopback = netip.MustParseAddr("127.0.0.1")

// Sink returns an observation sink safe for concurrent use and a function
// returning a copy of what it received so far.
func Sink() (probes.Sink, func() []probes.Observation) {
	var mu sync.Mutex
	var obs []probes.Observation
	return func(o probes.Observation) {
			mu.Lock()
			obs = append(obs, o)
			mu.Unlock()
		}, func() []probes.Observation {
			mu.Lock()
			defer mu.Unlock()
			return append([]probes.Observation(nil), obs...)
		}
}

// FactMap maps fact keys to values (the last value of a repeated key).
func FactMap(fs []probes.Fact) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		m[f.Key] = f.Value
	}
	return m
}

// Serve runs serve (a Responder's Serve) on conn until the test ends, then
// cancels it and fails the test if it returned an error. It does not close
// conn.
func Serve(t testing.TB, conn net.PacketConn, serve func(ctx context.Context, conn net.PacketConn) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("responder: %v", err)
		}
	})
}

// StartResponder runs serve on a fresh socket on 127.0.0.1 until the test
// ends and returns its port.
func StartResponder(t testing.TB, serve func(ctx context.Context, conn net.PacketConn) error) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	Serve(t, c, serve) // cleaned up first: stopped before c closes
	return c.LocalAddr().(*net.UDPAddr).Port
}

// StartFake runs a fake device on 127.0.0.1 that answers every datagram with
// reply(request) (nothing when that is nil, or when reply is nil), from a
// second socket when otherPort is set (devices that answer from another
// port than the one asked). It returns the port it listens on.
func StartFake(t testing.TB, otherPort bool, reply func(req []byte) []byte) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := c
	if otherPort {
		if out, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			c.Close()
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply == nil {
				continue
			}
			if b := reply(buf[:n]); b != nil {
				_, _ = out.WriteTo(b, from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); out.Close(); wg.Wait() })
	return c.LocalAddr().(*net.UDPAddr).Port
}

// ProbeFunc probes 127.0.0.1:port with the protocol's Prober, its Timeout
// set to timeout, emitting to emit.
type ProbeFunc func(ctx context.Context, port int, timeout time.Duration, emit probes.Sink) error

// ProbeOne probes a device that answers on port and returns the one
// observation the prober must emit. A prober that answers the first reply
// must stop there: with a 2 s timeout, it must be done within a second.
func ProbeOne(t testing.TB, probe ProbeFunc, port int) probes.Observation {
	t.Helper()
	emit, got := Sink()
	start := time.Now()
	if err := probe(context.Background(), port, 2*time.Second, emit); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("probe took %v: it should stop at the first reply", d)
	}
	obs := got()
	if len(obs) != 1 {
		t.Fatalf("%d observations: %+v", len(obs), obs)
	}
	return obs[0]
}

// BadReplies runs probe (with a 400 ms timeout) against a fake device per
// case answering every request with reply(request). Each must fail within a
// second and emit nothing: with errNoReply when reply is nil (a silent
// device), with the reply's problem otherwise, since a device answering
// nonsense is not a silent one.
func BadReplies(t *testing.T, probe ProbeFunc, errNoReply error, cases map[string]func(req []byte) []byte) {
	t.Helper()
	for name, reply := range cases {
		t.Run(name, func(t *testing.T) {
			port := StartFake(t, false, reply)
			emit, got := Sink()
			start := time.Now()
			err := probe(context.Background(), port, 400*time.Millisecond, emit)
			if err == nil || len(got()) != 0 {
				t.Errorf("err %v, observations %v", err, got())
			}
			if silent := reply == nil; silent != errors.Is(err, errNoReply) {
				t.Errorf("silent %v, err %v", silent, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// Slow probes a device that never answers with a 5 s timeout under a
// 200 ms context: the context's deadline must win, and the error must be
// errNoReply.
func Slow(t testing.TB, probe ProbeFunc, errNoReply error) {
	t.Helper()
	port := StartFake(t, false, nil)
	emit, got := Sink()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := probe(ctx, port, 5*time.Second, emit)
	if !errors.Is(err, errNoReply) || len(got()) != 0 {
		t.Errorf("err %v obs %v", err, got())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ctx deadline not respected: %v", d)
	}
}

// AskOnce sends msgs, in order, from a fresh socket to a responder on
// 127.0.0.1:port and returns its first answer (within a second). A second
// datagram within 100 ms fails the test: a responder answers one request
// once, and never answers what is not a request (no reply storms).
func AskOnce(t testing.TB, port int, msgs ...[]byte) []byte {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	for _, m := range msgs {
		if _, err := c.WriteTo(m, dst); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 65536)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	first := append([]byte(nil), buf[:n]...)
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := c.ReadFrom(buf); err == nil {
		t.Errorf("a second datagram was answered: %q", buf[:n])
	}
	return first
}

// FromOtherPort probes a fake device that answers each request with
// reply(request) from another port than the one asked, as devices answering
// from their service port do, and returns the one observation the prober
// must make of it.
func FromOtherPort(t testing.TB, probe ProbeFunc, reply func(req []byte) []byte) probes.Observation {
	t.Helper()
	port := StartFake(t, true, reply)
	emit, got := Sink()
	if err := probe(context.Background(), port, time.Second, emit); err != nil {
		t.Fatal(err)
	}
	if len(got()) != 1 {
		t.Fatalf("want one observation, got %v", got())
	}
	return got()[0]
}

// IgnoresEcho probes a fake device that echoes every request back (as a
// second discovery tool on the host might): a request is no answer, so the
// prober must emit nothing and report errNoReply.
func IgnoresEcho(t testing.TB, probe ProbeFunc, errNoReply error) {
	t.Helper()
	port := StartFake(t, false, func(req []byte) []byte { return req })
	emit, got := Sink()
	err := probe(context.Background(), port, 300*time.Millisecond, emit)
	if !errors.Is(err, errNoReply) || len(got()) != 0 {
		t.Errorf("echo: err %v, obs %v", err, got())
	}
}

// SubnetFilter checks that a Discoverer reports only devices inside the
// link's subnets. newD returns the Discoverer aimed at a responder on
// 127.0.0.1:port (its group set to that unicast address, no group
// listener); run on a loopback link it must see the responder when the
// link's subnet is 127.0.0.0/8 and nothing when it is 198.18.0.0/15.
func SubnetFilter(t *testing.T, port int, newD func(port int) probes.Discoverer) {
	t.Helper()
	for subnet, want := range map[string]int{"127.0.0.0/8": 1, "198.18.0.0/15": 0} {
		emit, got := Sink()
		l := probes.Link{Addr: Loopback, Subnets: []netip.Prefix{netip.MustParsePrefix(subnet)}}
		if err := newD(port).Discover(context.Background(), l, emit); err != nil {
			t.Fatal(err)
		}
		if len(got()) != want {
			t.Errorf("subnet %s: %d observations, want %d", subnet, len(got()), want)
		}
	}
}

// NoMaker classifies what obs say about one host with the built-in
// signatures and fails the test when any of it names a maker, a candidate
// or maker evidence: a host that only asked a discovery question (the
// installer's laptop, a vendor's search tool, a second appliance) is
// nobody's evidence. The MAC is a locally administered one, so no OUI rule
// speaks either.
func NoMaker(t testing.TB, obs []probes.Observation) {
	t.Helper()
	var facts []probes.Fact
	for _, o := range obs {
		facts = append(facts, o.Facts...)
	}
	v := classify.Classify(nil, classify.Input{MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}, Facts: facts})
	if v.Maker != "" || len(v.Candidates) != 0 || len(v.Review) != 0 {
		t.Errorf("a host that only asked got maker %q, candidates %v, review %v from %v", v.Maker, v.Candidates, v.Review, facts)
	}
	for _, e := range v.Evidence {
		if e.Maker != "" {
			t.Errorf("maker evidence from a request: %+v", e)
		}
	}
}

// FuzzSender is the frame fuzz targets decode with: a fixed source MAC and
// address that CheckDecoded expects back.
func FuzzSender(payload []byte, srcPort, dstPort uint16) *probes.Frame {
	return &probes.Frame{
		Src: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x5e}, SrcIP: netip.MustParseAddr("198.18.1.94"),
		IPProto: probes.ProtoUDP, SrcPort: srcPort, DstPort: dstPort, Payload: payload,
	}
}

// CheckDecoded fails a fuzz run when a decoder attributed anything to
// another host than the frame's sender (whatever MAC or address the
// payload names), or emitted a claim in another form than the one
// <probe>.mac and <probe>.ipv4 facts promise.
func CheckDecoded(t testing.TB, f *probes.Frame, obs []probes.Observation) {
	t.Helper()
	for _, o := range obs {
		if o.MAC.String() != f.Src.String() || o.IP != f.SrcIP {
			t.Fatalf("observation for %s/%s from a frame sent by %s/%s", o.MAC, o.IP, f.Src, f.SrcIP)
		}
		CheckClaims(t, o.Facts)
	}
}

// CheckClaims fails when a <probe>.mac fact is not a lower-case,
// colon-separated, non-zero MAC or a <probe>.ipv4 fact not a dotted,
// specified IPv4 address.
func CheckClaims(t testing.TB, facts []probes.Fact) {
	t.Helper()
	for _, fa := range facts {
		switch {
		case strings.HasSuffix(fa.Key, ".mac"):
			hw, err := net.ParseMAC(fa.Value)
			if err != nil || len(hw) != 6 || hw.String() != fa.Value || fa.Value == "00:00:00:00:00:00" {
				t.Fatalf("claim %s=%q is not one normalised MAC", fa.Key, fa.Value)
			}
		case strings.HasSuffix(fa.Key, ".ipv4"):
			a, err := netip.ParseAddr(fa.Value)
			if err != nil || !a.Is4() || a.IsUnspecified() || a.String() != fa.Value {
				t.Fatalf("claim %s=%q is not one dotted IPv4 address", fa.Key, fa.Value)
			}
		}
	}
}

// ClosedPort returns a loopback UDP port nothing listens on (one that was
// just bound and released): datagrams to it draw ICMP port unreachable.
func ClosedPort(t testing.TB) int {
	t.Helper()
	l, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	return port
}
