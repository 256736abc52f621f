package ssdp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
)

var loopback = udpdisctest.Loopback

// probeLoopback is a udpdisctest.ProbeFunc for this package's Prober.
func probeLoopback(ctx context.Context, port int, timeout time.Duration, emit probes.Sink) error {
	return (&Prober{Options{Port: port, Timeout: timeout}}).Probe(ctx, probes.Target{IP: loopback}, emit)
}

func axisDescription() Description {
	return Description{Device: Device{
		DeviceType: "urn:axis-com:service:BasicService:1", FriendlyName: "AXIS P3245-LVE - ACCC8E123456",
		Manufacturer: "AXIS", ModelName: "AXIS P3245-LVE", ModelNumber: "P3245-LVE", SerialNumber: "ACCC8E123456",
		UDN: "uuid:Axis-accc8ec40001",
	}}
}

// startDevice runs a Responder on 127.0.0.1 with its description served by
// an httptest server; it returns the SSDP port.
func startDevice(t *testing.T, descHandler http.Handler) (int, *Responder) {
	t.Helper()
	r := &Responder{UUID: "Axis-accc8ec40001", Server: "Linux/5.15, UPnP/1.0, Portable SDK for UPnP devices/1.14.13", Description: axisDescription()}
	if descHandler == nil {
		descHandler = r
	}
	hs := httptest.NewServer(descHandler)
	t.Cleanup(hs.Close)
	r.Location = hs.URL + "/description.xml"
	return udpdisctest.StartResponder(t, r.Serve), r
}

func TestProberResponder(t *testing.T) {
	port, r := startDevice(t, nil)
	emit, got := udpdisctest.Sink()
	p := &Prober{Options{Port: port, Timeout: 500 * time.Millisecond, Sends: 1}}
	if err := p.Probe(context.Background(), probes.Target{IP: loopback}, emit); err != nil {
		t.Fatal(err)
	}
	obs := got()
	if len(obs) != 1 {
		t.Fatalf("want one observation per host, got %+v", obs)
	}
	m := factMap(obs[0].Facts)
	for k, v := range map[string]string{
		"ssdp.server": r.Server, "ssdp.location": r.Location,
		"upnp.manufacturer": "AXIS", "upnp.model_name": "AXIS P3245-LVE", "upnp.serial": "ACCC8E123456",
		"upnp.friendly_name": "AXIS P3245-LVE - ACCC8E123456", "upnp.model_number": "P3245-LVE",
		"upnp.device_type": "urn:axis-com:service:BasicService:1",
	} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	// ssdp:all answered with three targets, upnp:rootdevice with one:
	// the distinct USNs all appear, each once.
	n := 0
	for _, f := range obs[0].Facts {
		if f.Key == "ssdp.usn" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d distinct USNs, want 3: %v", n, obs[0].Facts)
	}
}

func TestProberDescriptionProblems(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	huge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<root><device><manufacturer>"))
		w.Write(bytes.Repeat([]byte("A"), MaxDescription+10))
	})
	garbage := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("\x00\x01 not xml")) })
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.2:1/description.xml", http.StatusFound)
	})
	for name, h := range map[string]http.Handler{"slow": slow, "huge": huge, "garbage": garbage, "redirect": redirect} {
		t.Run(name, func(t *testing.T) {
			port, _ := startDevice(t, h)
			emit, got := udpdisctest.Sink()
			start := time.Now()
			p := &Prober{Options{Port: port, Timeout: 300 * time.Millisecond, FetchTimeout: 300 * time.Millisecond, Sends: 1}}
			if err := p.Probe(context.Background(), probes.Target{IP: loopback}, emit); err != nil {
				t.Fatal(err) // the SSDP answer itself was fine
			}
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("took %v", d)
			}
			obs := got()
			if len(obs) != 1 {
				t.Fatalf("%+v", obs)
			}
			m := factMap(obs[0].Facts)
			if m["ssdp.server"] == "" || m["upnp.manufacturer"] != "" {
				t.Errorf("facts %v", m)
			}
		})
	}
}

func TestProberRefusesOtherHostLocation(t *testing.T) {
	var hit atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	defer other.Close()
	// A device on 127.0.0.1 that points LOCATION at another address.
	loc := strings.Replace(other.URL, "127.0.0.1", "127.0.0.2", 1) + "/d.xml"
	port := udpdisctest.StartFake(t, false, func([]byte) []byte { return BuildResponse(STRoot, "uuid:x", loc, "evil") })
	emit, got := udpdisctest.Sink()
	p := &Prober{Options{Port: port, Timeout: 300 * time.Millisecond, Sends: 1}}
	if err := p.Probe(context.Background(), probes.Target{IP: loopback}, emit); err != nil {
		t.Fatal(err)
	}
	if hit.Load() || len(got()) != 1 || factMap(got()[0].Facts)["ssdp.location"] != loc {
		t.Errorf("hit %v obs %+v", hit.Load(), got())
	}
}

func TestProberBadAnswers(t *testing.T) {
	good := BuildResponse(STRoot, "uuid:x", "", "srv")
	answer := func(b []byte) func([]byte) []byte { return func([]byte) []byte { return b } }
	udpdisctest.BadReplies(t, probeLoopback, ErrNoReply, map[string]func([]byte) []byte{
		"truncated": answer(good[:12]),
		"garbage":   answer([]byte("\x00\xff\xfe")),
		"oversized": answer(append([]byte("HTTP/1.1 200 OK\r\nX: "), bytes.Repeat([]byte("a"), 10000)...)),
		"silent":    nil,
	})
}

func TestProberSlow(t *testing.T) {
	udpdisctest.Slow(t, probeLoopback, ErrNoReply)
}

func TestProberKnownLocation(t *testing.T) {
	// A host that does not answer M-SEARCH but whose LOCATION was seen
	// passively still gets its description read.
	r := &Responder{Description: axisDescription()}
	hs := httptest.NewServer(r)
	defer hs.Close()
	r.Location = hs.URL + "/description.xml"
	port := udpdisctest.StartFake(t, false, nil) // a socket that never answers
	emit, got := udpdisctest.Sink()
	tgt := probes.Target{IP: loopback, Facts: []probes.Fact{{Key: "ssdp.location", Value: r.Location}}}
	if err := (&Prober{Options{Port: port, Timeout: 200 * time.Millisecond, Sends: 1}}).Probe(context.Background(), tgt, emit); err != nil {
		t.Fatal(err)
	}
	if len(got()) != 1 || factMap(got()[0].Facts)["upnp.serial"] != "ACCC8E123456" {
		t.Errorf("%+v", got())
	}
}

func TestResponderSTMatching(t *testing.T) {
	port, _ := startDevice(t, nil)
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	count := func(st string) int {
		c.WriteTo(BuildMSearch(fmt.Sprintf("127.0.0.1:%d", port), st, false), dst)
		n := 0
		buf := make([]byte, 4096)
		for {
			c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
			if _, _, err := c.ReadFrom(buf); err != nil {
				return n
			}
			n++
		}
	}
	for st, want := range map[string]int{STAll: 3, STRoot: 1, "uuid:Axis-accc8ec40001": 1, "urn:axis-com:service:BasicService:1": 1, "urn:other:1": 0} {
		if got := count(st); got != want {
			t.Errorf("ST %s: %d answers, want %d", st, got, want)
		}
	}
}

// countingConn counts the datagrams written through it.
type countingConn struct {
	net.PacketConn
	writes atomic.Int32
}

func (c *countingConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.writes.Add(1)
	return c.PacketConn.WriteTo(b, a)
}

// Once the listening window is over, no further round is sent: its answers
// would never be read.
func TestExchangeStopsSendingWhenOver(t *testing.T) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc := &countingConn{PacketConn: c}
	r := newRun(Options{Timeout: 100 * time.Millisecond, Sends: 3, Interval: 300 * time.Millisecond, NoFetch: true}, nil)
	msgs := [][]byte{BuildMSearch("127.0.0.1:9", STAll, false), BuildMSearch("127.0.0.1:9", STRoot, false)}
	if err := r.exchange(context.Background(), cc, c.LocalAddr(), msgs, func() time.Duration { return time.Second }); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load(); n != 2 {
		t.Errorf("%d datagrams sent, want the first round's 2", n)
	}
}

// A host with no SSDP listener answers ICMP port unreachable: the probe
// ends on it rather than waiting out its timeout.
func TestProberEndsOnRefusal(t *testing.T) {
	emit, got := udpdisctest.Sink()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := (&Prober{Options{Port: udpdisctest.ClosedPort(t), Timeout: 20 * time.Second}}).Probe(ctx, probes.Target{IP: loopback}, emit)
	if !errors.Is(err, ErrNoReply) || !strings.Contains(err.Error(), "port unreachable") || len(got()) != 0 {
		t.Fatalf("probe of a closed port: %v, %v", err, got())
	}
	if ctx.Err() != nil {
		t.Fatal("the probe waited for its timeout instead of ending on the refusal")
	}
}
