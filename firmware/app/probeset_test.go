package app

import (
	"slices"
	"testing"

	"github.com/camwarden/camwarden/firmware/config"
)

// Every probe the registry builds must be one config accepts in
// probing.disabled, and every name config accepts must exist, or an
// installer could disable a probe that silently keeps running.
func TestRegistryNamesMatchConfig(t *testing.T) {
	r := Registry(config.Default().Probing, nil)
	got := r.Names()
	want := slices.Clone(config.ProbeNames)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("registry probes %v\nconfig.ProbeNames %v", got, want)
	}
	for _, name := range want {
		p := config.Default().Probing
		p.Disabled = []string{name}
		if slices.Contains(Registry(p, nil).Names(), name) {
			t.Errorf("disabling %s left it in the registry", name)
		}
	}
	passive := config.Default().Probing
	passive.PassiveOnly = true
	if r := Registry(passive, nil); len(r.Probers)+len(r.Discoverers) != 0 {
		t.Fatalf("passive_only still has active probes: %v", r.Names())
	}
}
