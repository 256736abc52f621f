package dvrip

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
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

func dahuaReply() Reply {
	r, _ := ParseReply(mustRead("testdata/reply-layout-current.bin"))
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
	port := startResponder(t, &Responder{Reply: dahuaReply()})
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
	if m["dvrip.seen"] != "reply" || m["dvrip.model"] != "IPC-HFW2431S-S-S2" || obs[0].IP != loopback || obs[0].MAC.String() != "3c:ef:8c:c4:00:01" {
		t.Errorf("observation %+v", obs[0])
	}
}

func TestProberAnyPortIgnoresOthers(t *testing.T) {
	// The device answers from another source port, after echoing a search
	// (as a second tool on the host would) that must be ignored.
	port := startFake(t, true, func(req []byte) []byte {
		if !IsSearch(req) {
			return nil
		}
		return dahuaReply().Marshal()
	})
	emit, got := collectObs()
	if err := (&Prober{Port: port, Timeout: time.Second}).Probe(context.Background(), probes.Target{IP: loopback}, emit); err != nil {
		t.Fatal(err)
	}
	if len(got()) != 1 || factMap(got()[0].Facts)["dvrip.model"] != "IPC-HFW2431S-S-S2" {
		t.Fatalf("want one observation, got %v", got())
	}
	port = startFake(t, false, func(req []byte) []byte { return req }) // echoes the search
	emit, got = collectObs()
	err := (&Prober{Port: port, Timeout: 300 * time.Millisecond}).Probe(context.Background(), probes.Target{IP: loopback}, emit)
	if !errors.Is(err, ErrNoReply) || len(got()) != 0 {
		t.Errorf("echo: err %v, obs %v", err, got())
	}
}

func TestProberBadReplies(t *testing.T) {
	good := dahuaReply().Marshal()
	cases := map[string]func([]byte) []byte{
		"truncated": func([]byte) []byte { return good[:len(good)/2] },
		"garbage":   func([]byte) []byte { return []byte("\xb3\x00\xff\xfe garbage") },
		"oversized": func([]byte) []byte { return append(append([]byte(nil), good...), bytes.Repeat([]byte("x"), 20000)...) },
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

func TestResponderAnswersSearchOnly(t *testing.T) {
	port := startResponder(t, &Responder{Reply: dahuaReply()})
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	c.WriteTo(dahuaReply().Marshal(), dst) // replies are never answered
	c.WriteTo([]byte("junk"), dst)
	c.WriteTo(BuildSearch(), dst)
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 9000)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseReply(buf[:n]); err != nil || got.MAC != dahuaReply().MAC {
		t.Errorf("reply %+v %v", got, err)
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := c.ReadFrom(buf); err == nil {
		t.Error("a non-search was answered")
	}
}

func mustRead(name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}
