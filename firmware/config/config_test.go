package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestSampleParsesToDefaults(t *testing.T) {
	c, err := Parse(Sample())
	if err != nil {
		t.Fatalf("sample does not validate: %v", err)
	}
	d := Default()
	if c.StateDir != d.StateDir || c.Probing.Concurrency != d.Probing.Concurrency || c.Probing.RatePPS != d.Probing.RatePPS ||
		c.Probing.Timeout != d.Probing.Timeout || c.Probing.SweepInterval != d.Probing.SweepInterval ||
		c.Inventory != d.Inventory || c.MQTT.OutboxMax != d.MQTT.OutboxMax {
		t.Errorf("sample differs from defaults:\n%+v\n%+v", c, d)
	}
	if c.Policy.MinIsolate != "strong" || len(c.Policy.FlaggedMakers) != 5 {
		t.Errorf("sample policy %+v is not the shipped default", c.Policy)
	}
	if ok, why := c.Active(); ok || !strings.Contains(why, "no interfaces") {
		t.Errorf("sample must not probe actively: ok=%v why=%q", ok, why)
	}
}

func TestValidateNamesFieldAndValue(t *testing.T) {
	cases := []struct{ yaml, field, value string }{
		{"log_level: loud", "log_level", "loud"},
		{"interfaces: [{name: eth0, subnets: [10.0.0.0/8]}]", "interfaces[0].subnets[0]", "10.0.0.0/8"},
		{"interfaces: [{name: eth0, subnets: [nonsense]}]", "interfaces[0].subnets[0]", "nonsense"},
		{"interfaces: [{name: eth0}, {name: eth0}]", "interfaces[1].name", "eth0"},
		{"policy: {actions: {hikvision: explode}}", "policy.actions.hikvision", "explode"},
		{"policy: {min_isolate: maybe}", "policy.min_isolate", "maybe"},
		{"policy: {allow: [{mac: zz, reason: x}]}", "policy.allow[0].mac", "zz"},
		{"policy: {allow: [{mac: '44:19:b6:00:00:01'}]}", "policy.allow[0].reason", ""},
		{"board: {kind: arduino}", "board.kind", "arduino"},
		{"board: {relay: {contacts: sideways}}", "board.relay.contacts", "sideways"},
		{"board: {leds: {disco: GPIO4}}", "board.leds.disco", "disco"},
		{"probing: {rate_pps: 0}", "probing.rate_pps", "0"},
		{"mqtt: {broker: 'http://x'}", "mqtt.broker", "http://x"},
		{"appliance_id: 'a/b'", "appliance_id", "a/b"},
		{"site: 'London HQ'", "site", "London HQ"},
		{"mqtt: {tele_interval: 10ms}", "mqtt.tele_interval", "10ms"},
		{"probing: {disabled: [gopher]}", "probing.disabled[0]", "gopher"},
		{"probing: {snmp_communities: ['']}", "probing.snmp_communities[0]", ""},
		{"probing: {sweep_interval: 20m}", "inventory.gone_after", "10m0s"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yaml))
		if err == nil {
			t.Errorf("%s: accepted", tc.yaml)
			continue
		}
		if !strings.Contains(err.Error(), tc.field+": \""+tc.value+"\"") {
			t.Errorf("%s: error %q does not name %s=%q", tc.yaml, err, tc.field, tc.value)
		}
	}
}

func TestUnknownFieldRejected(t *testing.T) {
	_, err := Parse([]byte("probing: {passiv_only: true}"))
	if err == nil || !strings.Contains(err.Error(), "passiv_only") {
		t.Fatalf("misspelt key accepted or not named: %v", err)
	}
}

func TestActiveNeedsNamedInterface(t *testing.T) {
	c, err := Parse([]byte("interfaces: [{name: eth0.20, subnets: [198.18.1.0/24]}]"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Active(); !ok {
		t.Fatal("named interface should allow active probing")
	}
	c.Probing.PassiveOnly = true
	if ok, why := c.Active(); ok || !strings.Contains(why, "passive_only") {
		t.Fatalf("passive_only ignored: %v %q", ok, why)
	}
}

func TestFailMode(t *testing.T) {
	if (Relay{Contacts: "normally_open"}).FailMode() != "fail_secure" || (Relay{Contacts: "normally_closed"}).FailMode() != "fail_open" {
		t.Fatal("fail mode mapping wrong")
	}
}

func TestCredentialNeverPrintsPassword(t *testing.T) {
	c := Credential{User: "admin", Password: "s3cret"}
	if strings.Contains(c.String(), "s3cret") {
		t.Fatal("password printed")
	}
}

// A community is a password: a bad one is named by its field, and neither
// the error nor a printed Config shows its value.
func TestSNMPCommunitiesSecret(t *testing.T) {
	long := strings.Repeat("k", 256)
	_, err := Parse([]byte("probing: {snmp_communities: [s3cret-ro, s3cret-ro, " + long + "]}"))
	if err == nil {
		t.Fatal("duplicate and over-long communities accepted")
	}
	for _, field := range []string{"probing.snmp_communities[1]", "probing.snmp_communities[2]"} {
		if !strings.Contains(err.Error(), field+": \"<hidden>\"") {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), long) {
		t.Errorf("error shows a community: %q", err)
	}
	_, err = Parse([]byte("probing: {snmp_communities: [a, b, c, d, e, f, g, h, i]}"))
	if err == nil || !strings.Contains(err.Error(), "probing.snmp_communities: \"9\"") {
		t.Errorf("nine communities: %v", err)
	}
	c, err := Parse([]byte("probing: {snmp_communities: [s3cret-ro]}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Probing.SNMPCommunities) != 1 || string(c.Probing.SNMPCommunities[0]) != "s3cret-ro" {
		t.Fatalf("communities %v", c.Probing.SNMPCommunities)
	}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.Probing.SNMPCommunities)} {
		if strings.Contains(s, "s3cret") {
			t.Fatalf("printed config shows the community: %s", s)
		}
	}
	if d := Default(); len(d.Probing.SNMPCommunities) != 0 {
		t.Fatal("a community is configured by default")
	}
}
