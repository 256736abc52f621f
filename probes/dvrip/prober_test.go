package dvrip

import (
	"bytes"
	"context"
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
	r, _ := ParseReply(mustRead("testdata/reply-layout-current.bin"))
	return r
}

func TestProberResponder(t *testing.T) {
	port := udpdisctest.StartResponder(t, (&Responder{Reply: dahuaReply()}).Serve)
	o := udpdisctest.ProbeOne(t, probeLoopback, port)
	m := factMap(o.Facts)
	if m["dvrip.seen"] != "reply" || m["dvrip.model"] != "IPC-HFW2431S-S-S2" || o.IP != loopback || o.MAC != nil || m["dvrip.mac"] != "3c:ef:8c:c4:00:01" {
		t.Errorf("observation %+v", o)
	}
}

func TestProberAnyPortIgnoresOthers(t *testing.T) {
	// The device answers from another source port; a search echoed back
	// (as a second tool on the host would) must be ignored.
	o := udpdisctest.FromOtherPort(t, probeLoopback, func(req []byte) []byte {
		if !IsSearch(req) {
			return nil
		}
		return dahuaReply().Marshal()
	})
	if factMap(o.Facts)["dvrip.model"] != "IPC-HFW2431S-S-S2" {
		t.Errorf("observation %v", o)
	}
	udpdisctest.IgnoresEcho(t, probeLoopback, ErrNoReply)
}

func TestProberBadReplies(t *testing.T) {
	good := dahuaReply().Marshal()
	udpdisctest.BadReplies(t, probeLoopback, ErrNoReply, map[string]func([]byte) []byte{
		"truncated": func([]byte) []byte { return good[:len(good)/2] },
		"garbage":   func([]byte) []byte { return []byte("\xb3\x00\xff\xfe garbage") },
		"oversized": func([]byte) []byte { return append(append([]byte(nil), good...), bytes.Repeat([]byte("x"), 20000)...) },
	})
}

func TestProberSlow(t *testing.T) {
	udpdisctest.Slow(t, probeLoopback, ErrNoReply)
}

func TestResponderAnswersSearchOnly(t *testing.T) {
	port := udpdisctest.StartResponder(t, (&Responder{Reply: dahuaReply()}).Serve)
	// Replies and junk are never answered.
	b := udpdisctest.AskOnce(t, port, dahuaReply().Marshal(), []byte("junk"), BuildSearch())
	if got, err := ParseReply(b); err != nil || got.MAC != dahuaReply().MAC {
		t.Errorf("reply %+v %v", got, err)
	}
}

func mustRead(name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}
