package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/app"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/probes/classify"
)

func runFail(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if code := run(ctx, args, &out, &errb); code == 0 {
		t.Fatalf("wardenctl %v succeeded: %s", args, out.String())
	}
	return errb.String()
}

// TestPolicyEndToEnd: keys init -> policy sign -> keys push + policy push to
// mosquitto -> an appliance (PolicyManager through the MQTT client) applies
// and reports it -> policy status shows it; then a signed command, a
// rotation and a revocation, all through the tool.
func TestPolicyEndToEnd(t *testing.T) {
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app1": "pw1"},
		ACL: "pattern read camwarden/v1/fleet/#\n" + mosquittotest.DefaultACL})
	work := t.TempDir()
	keys := filepath.Join(work, "keys")
	pwf := filepath.Join(work, "pw")
	if err := os.WriteFile(pwf, []byte(b.Users[mosquittotest.AdminUser]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	broker := []string{"--broker", b.URL(), "--user", mosquittotest.AdminUser, "--password-file", pwf}

	out := runCmd(t, "keys", "init", "--dir", keys)
	if !strings.Contains(out, "root_key: ") {
		t.Fatalf("keys init output:\n%s", out)
	}
	for _, f := range []string{"root.key", "signing"} {
		st, err := os.Stat(filepath.Join(keys, f))
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v; private keys must be owner-only", f, perm)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(keys, "signing"))
	for _, e := range ents {
		if st, _ := os.Stat(filepath.Join(keys, "signing", e.Name())); st.Mode().Perm() != 0o600 {
			t.Errorf("signing key %s has mode %v", e.Name(), st.Mode().Perm())
		}
	}
	if len(ents) != 3 {
		t.Fatalf("%d signing keys, want 3", len(ents))
	}
	runFail(t, "keys", "init", "--dir", keys) // never overwrites a root key
	rootPub, _ := os.ReadFile(filepath.Join(keys, "root.pub"))

	yml := filepath.Join(work, "policy.yaml")
	if err := os.WriteFile(yml, []byte(`version: 1
scope: {appliances: ["*"]}
flagged_makers: [hikvision, dahua]
actions: {hikvision: isolate}
min_isolate: definitive
hold_time: 15m
allow_list:
  - {mac: "bc:ad:28:00:00:01", reason: "lobby camera, replacement ordered"}
probes: {disabled: [onvif], sweep_interval: 30m}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(work, "signed.json")
	runCmd(t, "policy", "sign", "--dir", keys, "--in", yml, "--out", signed)
	runCmd(t, append([]string{"keys", "push", "--dir", keys}, broker...)...)
	runCmd(t, append([]string{"policy", "push", "--dir", keys, "--in", signed, "--fleet"}, broker...)...)

	// The appliance.
	var mu sync.Mutex
	var got []enforce.Policy
	var acks []string
	c, err := mqtt.Dial(mqtt.Options{Broker: b.URL(), ApplianceID: "app1", Username: "app1", Password: "pw1",
		OutboxPath: filepath.Join(work, "outbox.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pm, err := app.NewPolicyManager(app.PolicyOptions{Dir: filepath.Join(work, "state"), RootKey: string(rootPub),
		ApplianceID: "app1", Publisher: c,
		OnApply: func(s app.Settings) { mu.Lock(); got = append(got, s.Enforce); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := app.NewCommandHandler(app.CommandOptions{ApplianceID: "app1", Engine: pm.Engine(), Publisher: c,
		Ack: func(src string) error { mu.Lock(); acks = append(acks, src); mu.Unlock(); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pm.Subscribe(c); err != nil {
		t.Fatal(err)
	}
	if err := ch.Subscribe(c); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("policy v1 applied", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	mu.Lock()
	p := got[0]
	mu.Unlock()
	if p.Version != 1 || p.Actions["hikvision"] != enforce.ActionIsolate || p.MinIsolate != classify.Definitive ||
		p.HoldTime != 15*time.Minute || len(p.AllowList) != 1 {
		t.Fatalf("applied %+v", p)
	}
	status := func() string {
		return runCmd(t, append([]string{"policy", "status", "--quiet", "300ms"}, broker...)...)
	}
	var st string
	waitFor("policy status applied", func() bool { st = status(); return strings.Contains(st, "applied") })
	line := lineOf(st, "app1")
	if f := strings.Fields(line); len(f) < 4 || f[1] != "1" || f[3] != "applied" {
		t.Fatalf("policy status:\n%s", st)
	}

	// A signed command through the tool, then the key for commands rotated
	// and the old policy key revoked: the next policy needs the new key set.
	out = runCmd(t, append(append([]string{"cmd", "send", "--dir", keys, "--appliance", "app1"}, broker...), "ack", "source=bob")...)
	if !strings.Contains(out, "ack ok") {
		t.Fatalf("cmd send: %s", out)
	}
	mu.Lock()
	if len(acks) != 1 || acks[0] != "bob" {
		t.Fatalf("acks %v", acks)
	}
	mu.Unlock()
	errOut := runFail(t, append(append([]string{"cmd", "send", "--dir", keys, "--appliance", "app1"}, broker...), "forget", "mac=nope")...)
	if !strings.Contains(errOut, "mac") {
		t.Fatalf("bad forget: %s", errOut)
	}

	kd, err := loadKeyDir(keys, false)
	if err != nil {
		t.Fatal(err)
	}
	oldPolicyKey := kd.keySet.Active(sign.RolePolicy, time.Now()).ID
	runCmd(t, "keys", "rotate", "--dir", keys, "policy")
	runCmd(t, "keys", "revoke", "--dir", keys, oldPolicyKey)
	runCmd(t, append([]string{"keys", "push", "--dir", keys}, broker...)...)
	// The revoked key signed v1: the appliance falls back.
	waitFor("fallback after revocation", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 && got[1].Version == 0 })

	if err := os.WriteFile(yml, []byte("version: 2\nscope: {appliances: [app1]}\nflagged_makers: [hikvision]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, "policy", "sign", "--dir", keys, "--in", yml, "--out", signed)
	runCmd(t, append([]string{"policy", "push", "--dir", keys, "--in", signed, "--appliance", "app1"}, broker...)...)
	waitFor("policy v2 applied", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 && got[2].Version == 2 })
	waitFor("status v2", func() bool {
		f := strings.Fields(lineOf(status(), "app1"))
		return len(f) >= 6 && f[1] == "2" && f[3] == "applied" && f[5] == "3" // key set v3
	})
	show := runCmd(t, "keys", "show", "--dir", keys)
	if !strings.Contains(show, oldPolicyKey+"  revoked") {
		t.Fatalf("keys show:\n%s", show)
	}

	// A typo'd version blocks the fleet until the root resets the floor.
	signPush := func(v uint64) {
		body := fmt.Sprintf("version: %d\nscope: {appliances: [app1]}\nflagged_makers: [hikvision]\n", v)
		if err := os.WriteFile(yml, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		runCmd(t, "policy", "sign", "--dir", keys, "--in", yml, "--out", signed)
		runCmd(t, append([]string{"policy", "push", "--dir", keys, "--in", signed, "--appliance", "app1"}, broker...)...)
	}
	signPush(300000)
	waitFor("runaway v300000 applied", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 4 && got[3].Version == 300000 })
	signPush(3)
	waitFor("v3 refused below the runaway", func() bool {
		return strings.Contains(lineOf(status(), "app1"), "old_version")
	})
	// Policy issue times are whole seconds: the reset and what follows are
	// stamped a second later than the runaway, as they would be by hand.
	nowFn = func() time.Time { return time.Now().Add(time.Second) }
	t.Cleanup(func() { nowFn = time.Now })
	out = runCmd(t, "keys", "reset-floor", "--dir", keys, "2")
	if !strings.Contains(out, "version 3 or higher") {
		t.Fatalf("reset-floor: %s", out)
	}
	runCmd(t, append([]string{"keys", "push", "--dir", keys}, broker...)...)
	waitFor("runaway dropped by the reset", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 5 && got[4].Version == 0 })
	signPush(3)
	waitFor("v3 applied after the reset", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 6 && got[5].Version == 3 })
	if show := runCmd(t, "keys", "show", "--dir", keys); !strings.Contains(show, "policy floor reset to 2") {
		t.Fatalf("keys show after reset:\n%s", show)
	}
	runFail(t, "keys", "reset-floor", "--dir", keys, "-1")
}

func lineOf(table, id string) string {
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, id+" ") {
			return l
		}
	}
	return ""
}

func TestPolicySignRefusesBadInput(t *testing.T) {
	work := t.TempDir()
	keys := filepath.Join(work, "keys")
	runCmd(t, "keys", "init", "--dir", keys)
	for name, body := range map[string]string{
		"no version":    "scope: {appliances: ['*']}\nflagged_makers: [hikvision]\n",
		"unknown field": "version: 1\nscope: {appliances: ['*']}\nflagged_makers: [hikvision]\ncolour: red\n",
		"bad action":    "version: 1\nscope: {appliances: ['*']}\nflagged_makers: [hikvision]\nactions: {hikvision: nuke}\n",
		"no scope":      "version: 1\nflagged_makers: [hikvision]\n",
	} {
		in := filepath.Join(work, "p.yaml")
		if err := os.WriteFile(in, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if e := runFail(t, "policy", "sign", "--dir", keys, "--in", in, "--out", filepath.Join(work, "s.json")); e == "" {
			t.Errorf("%s: no error text", name)
		}
	}
	runFail(t, "keys", "rotate", "--dir", keys, "root")
	runFail(t, "keys", "revoke", "--dir", keys, "0000000000000000")
	runFail(t, "policy", "push", "--in", "x", "--fleet", "--appliance", "a", "--broker", "tcp://127.0.0.1:1")
}
