package sadp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// startResponder runs a Responder on 127.0.0.1 and returns its port.
func startResponder(t *testing.T, r *Responder) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("responder: %v", err)
		}
		c.Close()
	})
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startFake answers every datagram with reply(request), from a second socket
// when otherPort is set (devices that answer from another port).
func startFake(t *testing.T, otherPort bool, reply func(req []byte) []byte) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := c
	if otherPort {
		if out, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
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
			if b := reply(buf[:n]); b != nil {
				_, _ = out.WriteTo(b, from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); out.Close(); wg.Wait() })
	return c.LocalAddr().(*net.UDPAddr).Port
}

func hikReply() Reply {
	r, _ := ParseReply(mustRead("testdata/reply-ds-2cd2385g1-i.xml"))
	return r
}

func collectObs() (probes.Sink, func() []probes.Observation) {
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

func TestProberResponder(t *testing.T) {
	port := startResponder(t, &Responder{Reply: hikReply()})
	emit, got := collectObs()
	p := &Prober{Port: port, Timeout: 2 * time.Second}
	start := time.Now()
	if err := p.Probe(context.Background(), probes.Target{IP: loopback}, emit); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("probe took %v: it should stop at the first reply", d)
	}
	obs := got()
	if len(obs) != 1 {
		t.Fatalf("%d observations", len(obs))
	}
	m := factMap(obs[0].Facts)
	if m["sadp.seen"] != "reply" || m["sadp.model"] != "DS-2CD2385G1-I" || obs[0].IP != loopback || obs[0].MAC.String() != "58:50:ed:1f:e3:85" {
		t.Errorf("observation %+v", obs[0])
	}
}

func TestProberAnyPortAndUUIDMatch(t *testing.T) {
	// Echo the UUID back from another source port.
	port := startFake(t, true, func(req []byte) []byte {
		q, err := ParseInquiry(req)
		if err != nil {
			return nil
		}
		r := hikReply()
		r.UUID = q.UUID
		return r.Marshal()
	})
	emit, got := collectObs()
	if err := (&Prober{Port: port, Timeout: time.Second}).Probe(context.Background(), probes.Target{IP: loopback}, emit); err != nil {
		t.Fatal(err)
	}
	if len(got()) != 1 {
		t.Fatalf("want one observation, got %v", got())
	}
	// A reply carrying another inquiry's UUID is not an answer to ours.
	port = startFake(t, false, func([]byte) []byte {
		r := hikReply()
		r.UUID = "00000000-0000-4000-8000-000000000000"
		return r.Marshal()
	})
	emit, got = collectObs()
	err := (&Prober{Port: port, Timeout: 300 * time.Millisecond}).Probe(context.Background(), probes.Target{IP: loopback}, emit)
	if !errors.Is(err, ErrNoReply) || len(got()) != 0 {
		t.Errorf("foreign UUID: err %v, obs %v", err, got())
	}
}

func TestProberBadReplies(t *testing.T) {
	good := hikReply().Marshal()
	cases := map[string]func([]byte) []byte{
		"truncated": func([]byte) []byte { return good[:len(good)/2] },
		"garbage":   func([]byte) []byte { return []byte("<ProbeMatch>\x00\xff\xfe garbage") },
		"oversized": func([]byte) []byte {
			return append(append([]byte("<ProbeMatch><Pad>"), bytes.Repeat([]byte("x"), 20000)...), "</Pad></ProbeMatch>"...)
		},
	}
	for name, reply := range cases {
		t.Run(name, func(t *testing.T) {
			port := startFake(t, false, reply)
			emit, got := collectObs()
			start := time.Now()
			err := (&Prober{Port: port, Timeout: 400 * time.Millisecond}).Probe(context.Background(), probes.Target{IP: loopback}, emit)
			if err == nil || len(got()) != 0 {
				t.Errorf("err %v, observations %v", err, got())
			}
			if errors.Is(err, ErrNoReply) {
				t.Errorf("a bad reply should be reported as such, got %v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestProberSlow(t *testing.T) {
	port := startFake(t, false, func([]byte) []byte { return nil }) // never answers
	emit, got := collectObs()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := (&Prober{Port: port, Timeout: 5 * time.Second}).Probe(ctx, probes.Target{IP: loopback}, emit)
	if !errors.Is(err, ErrNoReply) || len(got()) != 0 {
		t.Errorf("err %v obs %v", err, got())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ctx deadline not respected: %v", d)
	}
}

func TestResponderHiddenMACAndIgnoresReplies(t *testing.T) {
	r := hikReply()
	r.MAC = ""
	port := startResponder(t, &Responder{Reply: r})
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	// A reply sent to a responder must not be answered (no reply storms).
	c.WriteTo(hikReply().Marshal(), dst)
	c.WriteTo(BuildInquiry("AAA"), dst)
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 9000)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseReply(buf[:n])
	if err != nil || got.UUID != "AAA" || got.MAC != "" {
		t.Errorf("reply %+v %v", got, err)
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := c.ReadFrom(buf); err == nil {
		t.Error("second datagram answered")
	}
}

func mustRead(name string) []byte {
	b, err := readFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// The Discoverer reports only hosts inside the link's subnets. Aimed at a
// loopback responder (Group set to its unicast address) it shows both sides.
func TestDiscovererSubnetFilter(t *testing.T) {
	port := startResponder(t, &Responder{Reply: hikReply()})
	for subnet, want := range map[string]int{"127.0.0.0/8": 1, "198.18.0.0/15": 0} {
		emit, got := collectObs()
		d := &Discoverer{Group: net.IPv4(127, 0, 0, 1), Port: port, NoGroupListen: true, Timeout: 300 * time.Millisecond}
		l := probes.Link{Addr: loopback, Subnets: []netip.Prefix{netip.MustParsePrefix(subnet)}}
		if err := d.Discover(context.Background(), l, emit); err != nil {
			t.Fatal(err)
		}
		if len(got()) != want {
			t.Errorf("subnet %s: %d observations, want %d", subnet, len(got()), want)
		}
	}
}
