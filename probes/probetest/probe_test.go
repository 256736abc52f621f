package probetest

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/camwarden/camwarden/probes"
)

// recorder is a testing.TB that keeps the errors Probe reports, so the
// contract check can be seen to fail.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }

type fake struct{ names []string }

func (f fake) Name() string { return "fake" }
func (f fake) Probe(_ context.Context, t probes.Target, emit probes.Sink) error {
	for i, n := range f.names {
		emit(probes.Observation{IP: t.IP, Probe: n, Facts: []probes.Fact{probes.F("fake.k", fmt.Sprint(i))}})
	}
	return nil
}

func TestProbeChecksTheContract(t *testing.T) {
	tgt := probes.Target{IP: netip.MustParseAddr("198.18.0.1")}
	cases := []struct {
		names []string
		errs  int
		want  string
	}{
		{nil, 0, ""},
		{[]string{"fake"}, 0, "0"},
		{[]string{"other"}, 1, "0"},
		{[]string{"fake", "fake"}, 1, "1"},
	}
	for _, c := range cases {
		r := &recorder{TB: t}
		got := Probe(r, fake{c.names}, tgt)
		if len(r.errs) != c.errs || got["fake.k"] != c.want {
			t.Errorf("%v: errors %q, facts %v", c.names, r.errs, got)
		}
	}
}
