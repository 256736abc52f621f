package app

import (
	"slices"
	"testing"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/probes/snmp"
)

// Every probe the registry builds must be one config accepts in
// probing.disabled, and every name config accepts must exist, or an
// installer could disable a probe that silently keeps running.
func TestRegistryNamesMatchConfig(t *testing.T) {
	withSNMP := config.Default().Probing
	withSNMP.SNMPCommunities = []config.Community{"site-ro"}
	r := Registry(withSNMP, nil)
	got := r.Names()
	want := slices.Clone(config.ProbeNames)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("registry probes %v\nconfig.ProbeNames %v", got, want)
	}
	for _, name := range want {
		p := withSNMP
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

// SNMP is registered only when a community is configured, so a default
// appliance never sends an SNMP packet.
func TestRegistrySNMPOnlyWithCommunity(t *testing.T) {
	if slices.Contains(Registry(config.Default().Probing, nil).Names(), "snmp") {
		t.Fatal("snmp prober registered without a community")
	}
	p := config.Default().Probing
	p.SNMPCommunities = []config.Community{"a", "b"}
	var sp *snmp.Prober
	for _, pr := range Registry(p, nil).Probers {
		if s, ok := pr.(*snmp.Prober); ok {
			sp = s
		}
	}
	if sp == nil || !slices.Equal(sp.Communities, []string{"a", "b"}) {
		t.Fatalf("snmp prober %+v", sp)
	}
}
