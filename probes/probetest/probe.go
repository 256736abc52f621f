package probetest

import (
	"context"
	"testing"

	"github.com/camwarden/camwarden/probes"
)

// Probe runs the active prober p once against target and returns the facts
// it emitted, the last value of a repeated key winning. It fails t when p
// returns an error, and reports an observation under another name than
// p.Name() or more than one observation: every active prober emits at most
// one observation per target, under its own name. That is the contract all
// probers share, not a protocol check, and the only one made here.
func Probe(t testing.TB, p probes.Prober, target probes.Target) map[string]string {
	t.Helper()
	got := map[string]string{}
	n := 0
	err := p.Probe(context.Background(), target, func(o probes.Observation) {
		n++
		if o.Probe != p.Name() {
			t.Errorf("observation named %q by prober %q", o.Probe, p.Name())
		}
		for _, f := range o.Facts {
			got[f.Key] = f.Value
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n > 1 {
		t.Errorf("%d observations of one target, want at most one", n)
	}
	return got
}
