package sadp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
)

var loopback = udpdisctest.Loopback

// startResponder runs a Responder on 127.0.0.1 and returns its port.
func startResponder(t *testing.T, r *Responder) int {
	t.Helper()
	return udpdisctest.StartResponder(t, r.Serve)
}

// probeLoopback is a udpdisctest.ProbeFunc for this package's Prober.
func probeLoopback(ctx context.Context, port int, timeout time.Duration, emit probes.Sink) error {
	return (&Prober{Port: port, Timeout: timeout}).Probe(ctx, probes.Target{IP: loopback}, emit)
}

func hikReply() Reply {
	r, _ := ParseReply(mustRead("testdata/reply-ds-2cd2385g1-i.xml"))
	return r
}

func TestProberResponder(t *testing.T) {
	port := startResponder(t, &Responder{Reply: hikReply()})
	o := udpdisctest.ProbeOne(t, probeLoopback, port)
	m := factMap(o.Facts)
	// Attributed to the address that answered; the MAC in the reply is a
	// claim, a fact.
	if m["sadp.seen"] != "reply" || m["sadp.model"] != "DS-2CD2385G1-I" || o.IP != loopback || o.MAC != nil || m["sadp.mac"] != "58:50:ed:1f:e3:85" {
		t.Errorf("observation %+v", o)
	}
}

func TestProberAnyPortAndUUIDMatch(t *testing.T) {
	// Echo the UUID back from another source port.
	udpdisctest.FromOtherPort(t, probeLoopback, func(req []byte) []byte {
		q, err := ParseInquiry(req)
		if err != nil {
			return nil
		}
		r := hikReply()
		r.UUID = q.UUID
		return r.Marshal()
	})
	// A reply carrying another inquiry's UUID is not an answer to ours.
	port := udpdisctest.StartFake(t, false, func([]byte) []byte {
		r := hikReply()
		r.UUID = "00000000-0000-4000-8000-000000000000"
		return r.Marshal()
	})
	emit, got := udpdisctest.Sink()
	err := probeLoopback(context.Background(), port, 300*time.Millisecond, emit)
	if !errors.Is(err, ErrNoReply) || len(got()) != 0 {
		t.Errorf("foreign UUID: err %v, obs %v", err, got())
	}
}

func TestProberBadReplies(t *testing.T) {
	good := hikReply().Marshal()
	udpdisctest.BadReplies(t, probeLoopback, ErrNoReply, map[string]func([]byte) []byte{
		"truncated": func([]byte) []byte { return good[:len(good)/2] },
		"garbage":   func([]byte) []byte { return []byte("<ProbeMatch>\x00\xff\xfe garbage") },
		"oversized": func([]byte) []byte {
			return append(append([]byte("<ProbeMatch><Pad>"), bytes.Repeat([]byte("x"), 20000)...), "</Pad></ProbeMatch>"...)
		},
	})
}

func TestProberSlow(t *testing.T) {
	udpdisctest.Slow(t, probeLoopback, ErrNoReply)
}

func TestResponderHiddenMACAndIgnoresReplies(t *testing.T) {
	r := hikReply()
	r.MAC = ""
	port := startResponder(t, &Responder{Reply: r})
	// A reply sent to a responder must not be answered (no reply storms).
	b := udpdisctest.AskOnce(t, port, hikReply().Marshal(), BuildInquiry("AAA"))
	got, err := ParseReply(b)
	if err != nil || got.UUID != "AAA" || got.MAC != "" {
		t.Errorf("reply %+v %v", got, err)
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
	udpdisctest.SubnetFilter(t, port, func(port int) probes.Discoverer {
		return &Discoverer{Group: net.IPv4(127, 0, 0, 1), Port: port, NoGroupListen: true, Timeout: 300 * time.Millisecond}
	})
}
