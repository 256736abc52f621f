package probes_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// The budget bounds the connection even when the caller's ctx has none,
// and release ends the context readers pace themselves by.
func TestDialWithin(t *testing.T) {
	addr := silent(t)
	ctx, c, release, err := probes.DialWithin(context.Background(), nil, addr, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a silent device returned")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("read held %v past a 200ms budget", d)
	}
	if _, ok := ctx.Deadline(); !ok {
		t.Error("the returned context has no deadline")
	}
	release()
	if ctx.Err() == nil {
		t.Error("release left the context running")
	}
	if _, _, _, err := probes.DialWithin(context.Background(), func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("refused")
	}, addr, time.Second); err == nil {
		t.Error("a failed dial returned no error")
	}
}

// Settle waits a moment for more, but never past the budget.
func TestSettle(t *testing.T) {
	addr := silent(t)
	ctx, c, release, err := probes.DialWithin(context.Background(), nil, addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	probes.Settle(ctx, c, 100*time.Millisecond)
	start := time.Now()
	_, _ = c.Read(make([]byte, 1))
	if d := time.Since(start); d > time.Second {
		t.Errorf("settle of 100ms waited %v", d)
	}

	ctx2, c2, release2, err := probes.DialWithin(context.Background(), nil, addr, 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer release2()
	probes.Settle(ctx2, c2, time.Hour)
	start = time.Now()
	_, _ = c2.Read(make([]byte, 1))
	if d := time.Since(start); d > time.Second {
		t.Errorf("a settle longer than the budget held the read %v", d)
	}
}

func TestProbeBanner(t *testing.T) {
	tgt := probes.Target{IP: netip.MustParseAddr("198.18.0.7")}
	at := time.Unix(1700000000, 0)
	var obs []probes.Observation
	emit := func(o probes.Observation) { obs = append(obs, o) }
	var gotAddr string
	err := probes.ProbeBanner(context.Background(), tgt, emit, "ftp", 2121, func() time.Time { return at },
		func(_ context.Context, addr string) string { gotAddr = addr; return "ready" })
	if err != nil || gotAddr != "198.18.0.7:2121" {
		t.Fatalf("err %v, read %q", err, gotAddr)
	}
	if len(obs) != 1 || obs[0].Probe != "ftp" || !obs[0].Time.Equal(at) || obs[0].IP != tgt.IP ||
		len(obs[0].Facts) != 1 || obs[0].Facts[0] != probes.F("ftp.banner", "ready") {
		t.Fatalf("%+v", obs)
	}
	// The device's words are bounded like every fact.
	obs = nil
	_ = probes.ProbeBanner(context.Background(), tgt, emit, "telnet", 23, nil,
		func(context.Context, string) string { return strings.Repeat("x", 4*probes.MaxFactValue) })
	if len(obs) != 1 || len(obs[0].Facts[0].Value) > probes.MaxFactValue {
		t.Errorf("%d observations, value of %d bytes", len(obs), len(obs[0].Facts[0].Value))
	}
	// Nothing said is no observation and no error; an ended ctx is one.
	obs = nil
	if err := probes.ProbeBanner(context.Background(), tgt, emit, "telnet", 23, nil,
		func(context.Context, string) string { return "" }); err != nil || len(obs) != 0 {
		t.Errorf("silent port: %v, %d observations", err, len(obs))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = probes.ProbeBanner(ctx, tgt, emit, "telnet", 23, nil, func(context.Context, string) string { return "" })
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "telnet: 198.18.0.7: ") {
		t.Errorf("ended ctx: %v", err)
	}
}
