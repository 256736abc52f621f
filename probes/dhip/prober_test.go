package dhip

import (
	"bytes"
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
)

var loopback = udpdisctest.Loopback

// probeLoopback is a udpdisctest.ProbeFunc for this package's Prober.
func probeLoopback(ctx context.Context, port int, timeout time.Duration, emit probes.Sink) error {
	return (&Prober{Port: port, Timeout: timeout}).Probe(ctx, probes.Target{IP: loopback}, emit)
}

func dahuaReply() Reply {
	r, _ := ParseReply(mustRead("testdata/reply-ipc-hdw1431t1-s4.bin"))
	return r
}

func TestProberResponder(t *testing.T) {
	port := udpdisctest.StartResponder(t, (&Responder{Reply: dahuaReply()}).Serve)
	o := udpdisctest.ProbeOne(t, probeLoopback, port)
	m := factMap(o.Facts)
	if m["dhip.seen"] != "reply" || m["dhip.model"] != "IPC-HDW1431T1-S4" || o.IP != loopback || o.MAC != nil || m["dhip.mac"] != "08:ed:ed:87:42:7a" {
		t.Errorf("observation %+v", o)
	}
}

func TestProberAnyPortIgnoresOthers(t *testing.T) {
	// The device answers from another source port; a search echoed back
	// (as a second tool on the host would) must be ignored.
	o := udpdisctest.FromOtherPort(t, probeLoopback, func(req []byte) []byte {
		if m, err := Parse(req); err != nil || m.Method != MethodSearch {
			return nil
		}
		return dahuaReply().Marshal()
	})
	if factMap(o.Facts)["dhip.model"] != "IPC-HDW1431T1-S4" {
		t.Errorf("observation %v", o)
	}
	udpdisctest.IgnoresEcho(t, probeLoopback, ErrNoReply)
}

func TestProberBadReplies(t *testing.T) {
	good := dahuaReply().Marshal()
	udpdisctest.BadReplies(t, probeLoopback, ErrNoReply, map[string]func([]byte) []byte{
		"truncated": func([]byte) []byte { return good[:len(good)/2] },
		"garbage":   func([]byte) []byte { return Frame([]byte("\x00\xff\xfe garbage")) },
		"oversized": func([]byte) []byte { return Frame(bytes.Repeat([]byte("x"), 20000)) },
		"mismatch": func([]byte) []byte {
			b := append([]byte(nil), good...)
			b[24]++
			return b
		},
	})
}

func TestProberSlow(t *testing.T) {
	udpdisctest.Slow(t, probeLoopback, ErrNoReply)
}

func TestResponderAnswersSearchOnly(t *testing.T) {
	port := udpdisctest.StartResponder(t, (&Responder{Reply: dahuaReply()}).Serve)
	// Replies and junk are never answered.
	b := udpdisctest.AskOnce(t, port, dahuaReply().Marshal(), []byte("junk"), BuildSearch())
	if got, err := ParseReply(b); err != nil || got != dahuaReply() {
		t.Errorf("reply %+v %v", got, err)
	}
}

// The Discoverer reports only hosts inside the link's subnets. Aimed at a
// loopback responder (Group set to its unicast address) it shows both sides.
func TestDiscovererSubnetFilter(t *testing.T) {
	port := udpdisctest.StartResponder(t, (&Responder{Reply: dahuaReply()}).Serve)
	udpdisctest.SubnetFilter(t, port, func(port int) probes.Discoverer {
		return &Discoverer{Group: net.IPv4(127, 0, 0, 1), Port: port, NoGroupListen: true, Timeout: 300 * time.Millisecond}
	})
}

func mustRead(name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}
