package udpdisc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
)

// countingConn counts writes and fails those to failTo.
type countingConn struct {
	net.PacketConn
	writes atomic.Int32
	failTo string
}

var errWrite = errors.New("write refused")

func (c *countingConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.writes.Add(1)
	if a.String() == c.failTo {
		return 0, errWrite
	}
	return c.PacketConn.WriteTo(b, a)
}

func loopConn(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSendRounds(t *testing.T) {
	sink := loopConn(t)
	a := sink.LocalAddr()
	b := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	c := &countingConn{PacketConn: loopConn(t), failTo: b.String()}
	start := time.Now()
	to, err := SendRounds(context.Background(), c, 3, 20*time.Millisecond, Datagram{a, []byte("x")}, Datagram{b, []byte("y")})
	if n := c.writes.Load(); n != 6 {
		t.Errorf("%d writes, want 3 rounds of 2", n)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("rounds not spaced: %v", d)
	}
	if !errors.Is(err, errWrite) || to.String() != b.String() {
		t.Errorf("first error %v to %v", err, to)
	}

	// The run ends during the wait: the remaining rounds are not sent.
	c = &countingConn{PacketConn: loopConn(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := SendRounds(ctx, c, 3, time.Second, Datagram{a, []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if n := c.writes.Load(); n != 1 {
		t.Errorf("%d writes, want the first round only", n)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("did not stop with ctx: %v", d)
	}
	// Over before it began: nothing at all.
	if _, err := SendRounds(ctx, c, 3, time.Second, Datagram{a, []byte("x")}); err != nil || c.writes.Load() != 1 {
		t.Errorf("sent after the run ended: %d writes, %v", c.writes.Load(), err)
	}
}

func TestCollect(t *testing.T) {
	rx := loopConn(t)
	tx := loopConn(t)
	type got struct {
		src      netip.AddrPort
		n        int
		oversize bool
	}
	var (
		mu   sync.Mutex
		seen []got
	)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Collect(ctx, []net.PacketConn{rx}, func(src netip.AddrPort, b []byte, oversize bool) {
			mu.Lock()
			seen = append(seen, got{src, len(b), oversize})
			mu.Unlock()
		})
	}()
	for _, n := range []int{10, probes.MaxPayload, probes.MaxPayload + 100} {
		if _, err := tx.WriteTo(make([]byte, n), rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	<-done
	// Collect must end with its context, not wait for more traffic; the
	// bound is loose because a loaded 2-core CI machine can stall any
	// goroutine for a second.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Collect outlived its context: %v", d)
	}
	from := tx.LocalAddr().(*net.UDPAddr).AddrPort()
	want := []got{{from, 10, false}, {from, probes.MaxPayload, false}, {from, probes.MaxPayload, true}}
	if len(seen) != len(want) {
		t.Fatalf("got %+v, want %+v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("datagram %d: %+v, want %+v", i, seen[i], want[i])
		}
	}
}

func TestCollectCap(t *testing.T) {
	defer func(n int) { maxDatagrams = n }(maxDatagrams)
	maxDatagrams = 5
	rx, tx := loopConn(t), loopConn(t)
	for range 10 {
		if _, err := tx.WriteTo([]byte("flood"), rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n := 0
	start := time.Now()
	Collect(ctx, []net.PacketConn{rx}, func(netip.AddrPort, []byte, bool) { n++ })
	if n != 5 {
		t.Errorf("%d handled, want the cap of 5", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a flood should end the run early, took %v", d)
	}
}

// A flood on one socket ends the whole run, not just that socket's reader:
// the others must not wait for the deadline.
func TestCollectCapEndsEveryReader(t *testing.T) {
	defer func(n int) { maxDatagrams = n }(maxDatagrams)
	maxDatagrams = 5
	rx, quiet, tx := loopConn(t), loopConn(t), loopConn(t)
	for range 10 {
		if _, err := tx.WriteTo([]byte("flood"), rx.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	Collect(ctx, []net.PacketConn{rx, quiet}, func(netip.AddrPort, []byte, bool) {})
	if d := time.Since(start); d > time.Second {
		t.Errorf("the quiet socket's reader outlived the flood by %v", d)
	}
}

func TestInSubnets(t *testing.T) {
	if InSubnets(nil) != nil {
		t.Error("no subnets must accept everything (nil filter)")
	}
	f := InSubnets([]netip.Prefix{netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("10.0.0.0/8")})
	for a, want := range map[string]bool{"198.18.1.9": true, "10.1.2.3": true, "198.18.2.1": false, "127.0.0.1": false} {
		if f(netip.MustParseAddr(a)) != want {
			t.Errorf("%s: want %v", a, want)
		}
	}
}

func TestDefaults(t *testing.T) {
	if OrDefault(0, time.Second) != time.Second || OrDefault(-1, time.Second) != time.Second || OrDefault(time.Minute, time.Second) != time.Minute {
		t.Error("OrDefault")
	}
	if Sends(0, 2) != 2 || Sends(3, 2) != 3 || Sends(1000, 2) != MaxSends {
		t.Error("Sends")
	}
	def := Timing{Timeout: time.Second, Sends: 2, Interval: time.Millisecond}
	if got := (Timing{Sends: 99}).Or(def); got != (Timing{Timeout: time.Second, Sends: MaxSends, Interval: time.Millisecond}) {
		t.Errorf("Or: %+v", got)
	}
}

// Two listeners share one port (address reuse), as two discovery tools on
// one host do.
func TestListenPortReuse(t *testing.T) {
	a, err := ListenPort(0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	port := a.LocalAddr().(*net.UDPAddr).Port
	b, err := ListenPort(port)
	if err != nil {
		t.Fatalf("second listener on %d: %v", port, err)
	}
	b.Close()
	if _, err := ListenGroup(nil, net.IPv4(127, 0, 0, 1), port); err == nil || !strings.Contains(err.Error(), "join 127.0.0.1") {
		t.Errorf("joining a unicast address must fail with context, got %v", err)
	}
}

func TestServe(t *testing.T) {
	port := udpdisctest.StartResponder(t, func(ctx context.Context, conn net.PacketConn) error {
		return Serve(ctx, conn, 4, func(b []byte, from net.Addr) {
			_, _ = conn.WriteTo(append([]byte("re:"), b...), from)
		})
	})
	// A datagram longer than the buffer arrives cut to it.
	if got := udpdisctest.AskOnce(t, port, []byte("hello")); string(got) != "re:hell" {
		t.Errorf("answer %q", got)
	}
	// A closed conn ends Serve without error.
	c := loopConn(t)
	c.Close()
	if err := Serve(context.Background(), c, 4, func([]byte, net.Addr) {}); err != nil {
		t.Errorf("closed conn: %v", err)
	}
}

// toy is a protocol made up for these tests: "TOY?" asks, "TOY!<mac>"
// answers naming a MAC (a claim, like SADP's <MAC>), "TOY!skip" is someone
// else's answer, "TOY!bad" a broken one.
var errToyNoReply = errors.New("toy: no reply")

func toy(timeout time.Duration) *Exchange {
	return &Exchange{
		Name: "toy", What: "question", Request: []byte("TOY?"),
		IsReply: func(b []byte) bool { return bytes.HasPrefix(b, []byte("TOY!")) },
		Parse: func(b []byte) (Answer, error) {
			switch s := string(b[4:]); s {
			case "skip":
				return Answer{}, ErrSkip
			case "bad":
				return Answer{}, errors.New("broken")
			case "":
				return Answer{Facts: []probes.Fact{probes.F("toy.seen", "reply")}}, nil
			default:
				_, err := net.ParseMAC(s)
				return Answer{Facts: []probes.Fact{probes.F("toy.mac", s)}}, err
			}
		},
		ErrNoReply: errToyNoReply,
		Timing:     Timing{Timeout: timeout, Sends: 2, Interval: 50 * time.Millisecond},
	}
}

func toyProbe(ctx context.Context, port int, timeout time.Duration, emit probes.Sink) error {
	return toy(timeout).Probe(ctx, probes.Target{IP: udpdisctest.Loopback, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}}, port, nil, emit)
}

func answer(s string) func([]byte) []byte {
	return func(req []byte) []byte {
		if string(req) != "TOY?" {
			return nil
		}
		return []byte(s)
	}
}

func TestExchangeProbe(t *testing.T) {
	port := udpdisctest.StartFake(t, true, answer("TOY!"))
	o := udpdisctest.ProbeOne(t, toyProbe, port)
	// The answer is the sender's: its address, and no MAC, not even the
	// target's (the pipeline resolves the address from what it saw).
	if o.Probe != "toy" || o.IP != udpdisctest.Loopback || o.MAC != nil || udpdisctest.FactMap(o.Facts)["toy.seen"] != "reply" {
		t.Errorf("observation %+v", o)
	}
	// A reply naming another MAC is still the sender's answer.
	o = udpdisctest.ProbeOne(t, toyProbe, udpdisctest.StartFake(t, false, answer("TOY!02:00:00:00:00:77")))
	if o.IP != udpdisctest.Loopback || o.MAC != nil || udpdisctest.FactMap(o.Facts)["toy.mac"] != "02:00:00:00:00:77" {
		t.Errorf("claimed MAC: %+v", o)
	}
	udpdisctest.BadReplies(t, toyProbe, errToyNoReply, map[string]func([]byte) []byte{
		"broken":    answer("TOY!bad"),
		"oversized": answer("TOY!" + strings.Repeat("x", probes.MaxPayload)),
		"silent":    nil,
	})
	udpdisctest.Slow(t, toyProbe, errToyNoReply)
	// Another protocol's datagram and another run's answer are no answer.
	for _, s := range []string{"NOPE", "TOY!skip"} {
		emit, got := udpdisctest.Sink()
		err := toyProbe(context.Background(), udpdisctest.StartFake(t, false, answer(s)), 200*time.Millisecond, emit)
		if !errors.Is(err, errToyNoReply) || len(got()) != 0 {
			t.Errorf("%s: err %v obs %v", s, err, got())
		}
	}
	// The oversize error names the cap.
	emit, _ := udpdisctest.Sink()
	err := toyProbe(context.Background(), udpdisctest.StartFake(t, false, answer("TOY!"+strings.Repeat("x", probes.MaxPayload))), 200*time.Millisecond, emit)
	if err == nil || !strings.Contains(err.Error(), "larger than 9216 bytes") || !strings.HasPrefix(err.Error(), "toy: probe 127.0.0.1:") {
		t.Errorf("oversize: %v", err)
	}
	if err := toy(time.Second).Probe(context.Background(), probes.Target{IP: netip.MustParseAddr("::1")}, 1, nil, emit); err == nil || err.Error() != "toy: probe ::1: IPv4 only" {
		t.Errorf("IPv6 target: %v", err)
	}
}

// Discover reports one observation per answering address, whatever MACs
// its replies name, and only devices inside the link's subnets. Aimed at a
// loopback fake (its unicast address standing in for the group) it shows
// both. The fake names two MACs: both are claims of one sender, so one
// observation, attributed to its address, carrying the first claim.
func TestExchangeDiscover(t *testing.T) {
	replies := [][]byte{[]byte("TOY!02:00:00:00:00:01"), []byte("TOY!02:00:00:00:00:01"), []byte("TOY!02:00:00:00:00:02")}
	c := loopConn(t)
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, r := range replies {
				_, _ = c.WriteTo(r, from)
			}
		}
	}()
	to := []net.Addr{c.LocalAddr()}
	for subnet, want := range map[string]int{"127.0.0.0/8": 1, "198.18.0.0/15": 0} {
		emit, got := udpdisctest.Sink()
		l := probes.Link{Addr: udpdisctest.Loopback, Subnets: []netip.Prefix{netip.MustParsePrefix(subnet)}}
		listened := false
		listen := func() (net.PacketConn, error) { listened = true; return nil, errors.New("port taken") }
		if err := toy(300*time.Millisecond).Discover(context.Background(), l, to, listen, emit); err != nil {
			t.Fatal(err)
		}
		if len(got()) != want || !listened {
			t.Errorf("subnet %s: %d observations, want %d: %+v", subnet, len(got()), want, got())
		}
		for _, o := range got() {
			if o.MAC != nil || o.IP != udpdisctest.Loopback || udpdisctest.FactMap(o.Facts)["toy.mac"] != "02:00:00:00:00:01" {
				t.Errorf("observation %+v: want the sender's address, no MAC, the claim as a fact", o)
			}
		}
	}
	// A send failure (port 0 is refused locally) is the run's error,
	// naming what and where.
	emit, _ := udpdisctest.Sink()
	err := toy(100*time.Millisecond).Discover(context.Background(), probes.Link{Addr: udpdisctest.Loopback}, []net.Addr{&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0}}, nil, emit)
	if err == nil || !strings.HasPrefix(err.Error(), "toy: send question to 127.0.0.1:0: ") {
		t.Errorf("send to port 0: %v", err)
	}
}

// Claims are rendered in one form, so the pipeline can compare them with
// the sender's MAC and address as strings; what names no device is left out.
func TestClaims(t *testing.T) {
	for in, want := range map[string]string{
		"58-50-ED-1F-E3-85": "58:50:ed:1f:e3:85", "58:50:ed:1f:e3:85": "58:50:ed:1f:e3:85",
		"5850ed1fe385": "58:50:ed:1f:e3:85", " 5850.ed1f.e385 ": "58:50:ed:1f:e3:85",
		"00-00-00-00-00-00": "", "": "", "58-50-ED-1F-E3": "", "zz:50:ed:1f:e3:85": "",
		"00:11:22:33:44:55:66:77": "", "<script>": "",
	} {
		if got := ClaimedMAC(in); got != want {
			t.Errorf("ClaimedMAC(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"198.18.1.10": "198.18.1.10", " 192.168.1.64 ": "192.168.1.64", "0.0.0.0": "", "": "",
		"::1": "", "198.18.1": "", "198.18.1.300": "", "::ffff:198.18.1.10": "",
	} {
		if got := ClaimedIPv4(in); got != want {
			t.Errorf("ClaimedIPv4(%q) = %q, want %q", in, got, want)
		}
	}
}

// lateResponders answers each question from several loopback sockets, the
// i-th after delays[i]: devices that hold their answers back.
func lateResponders(t *testing.T, delays []time.Duration) net.Addr {
	c := loopConn(t)
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			for i, d := range delays {
				time.AfterFunc(d, func() {
					r, err := net.ListenPacket("udp4", "127.0.0."+strconv.Itoa(2+i)+":0")
					if err != nil {
						return
					}
					defer r.Close()
					_, _ = r.WriteTo([]byte("TOY!"), from)
				})
			}
		}
	}()
	return c.LocalAddr()
}

// A discovery run ends once answers stop, not after its whole window: with
// every device answering at once it is over about Floor after the last
// round, far inside Timeout; an answer that comes late, but within Floor
// of the last round or Settle of the answer before it, still counts.
func TestExchangeDiscoverEndsWhenAnswersStop(t *testing.T) {
	l := probes.Link{Addr: udpdisctest.Loopback, Subnets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	run := func(delays []time.Duration) (int, time.Duration) {
		x := toy(5 * time.Second)
		x.Floor, x.Settle = 200*time.Millisecond, 150*time.Millisecond
		emit, got := udpdisctest.Sink()
		start := time.Now()
		if err := x.Discover(context.Background(), l, []net.Addr{lateResponders(t, delays)}, nil, emit); err != nil {
			t.Fatal(err)
		}
		return len(got()), time.Since(start)
	}
	// Prompt answers: rounds at 0 and 50 ms, then the 200 ms floor.
	n, took := run([]time.Duration{0, 0, time.Millisecond})
	if n != 3 || took > 2*time.Second {
		t.Errorf("prompt answers: %d of 3 in %v, want all, well inside the 5 s window", n, took)
	}
	// A straggler 350 ms after the last round: the floor has passed, but
	// it comes within Settle of an answer that came 220 ms after the
	// round, which kept the run open for it.
	n, took = run([]time.Duration{0, 220 * time.Millisecond, 350 * time.Millisecond})
	if n != 3 || took > 2*time.Second {
		t.Errorf("late answers: %d of 3 in %v, want all, well inside the window", n, took)
	}
}

// A unicast ask whose host answers only after a while is still heard when
// no round trip was measured (the wait is then the whole Timeout), and
// with a measured one it gives up soon after its last request.
func TestExchangeProbeWaitsByReplyWait(t *testing.T) {
	slow := udpdisctest.StartFake(t, false, func(req []byte) []byte {
		time.Sleep(400 * time.Millisecond)
		return answer("TOY!")(req)
	})
	emit, got := udpdisctest.Sink()
	if err := toyProbe(context.Background(), slow, 2*time.Second, emit); err != nil || len(got()) != 1 {
		t.Errorf("slow host, no round trip known: err %v, %d observations", err, len(got()))
	}
	silent := udpdisctest.StartFake(t, false, nil)
	ctx := probes.WithReplyWait(context.Background(), func() time.Duration { return 100 * time.Millisecond })
	start := time.Now()
	if err := toyProbe(ctx, silent, 3*time.Second, emit); !errors.Is(err, errToyNoReply) {
		t.Errorf("silent host: %v", err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("silent host with a 100 ms reply wait took %v of its 3 s timeout", took)
	}
}

// A host that does not listen on the port answers ICMP port unreachable:
// the probe ends on it, as a refusal, instead of waiting out its timeout
// as it does for a host that stays silent. (Loopback always answers the
// ICMP.)
func TestExchangeProbeEndsOnRefusal(t *testing.T) {
	emit, got := udpdisctest.Sink()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := toyProbe(ctx, udpdisctest.ClosedPort(t), 20*time.Second, emit)
	if !errors.Is(err, errToyNoReply) || !strings.Contains(err.Error(), "port unreachable") || len(got()) != 0 {
		t.Fatalf("probe of a closed port: %v, %v; want a refusal", err, got())
	}
	if ctx.Err() != nil {
		t.Fatal("the probe waited for its timeout instead of ending on the refusal")
	}
}
