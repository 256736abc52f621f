package command_test

import (
	"testing"
	"time"

	"github.com/camwarden/camwarden/ota/command"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/sign/signtest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*signtest.Authority, func() *command.Verifier) {
	a := signtest.New(t, t0)
	dir := t.TempDir()
	open := func() *command.Verifier {
		e, err := policy.Open(policy.Options{Dir: dir, Root: a.Root.Public(), ApplianceID: "app1",
			Now: func() time.Time { return t0.Add(time.Minute) }, ClockSynced: func() bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.HandleKeySet(a.SignedKeySet()); err != nil && e.Trust().KeySet() == nil {
			t.Fatal(err)
		}
		v, err := command.NewVerifier("app1", e.Trust(), e.Store())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return a, open
}

func cmd(name, nonce string, muts ...func(*command.Command)) *command.Command {
	c := &command.Command{Type: command.Type, Name: name, Appliance: "app1", Nonce: nonce, IssuedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	for _, m := range muts {
		m(c)
	}
	return c
}

func TestVerifyAndReplay(t *testing.T) {
	a, open := setup(t)
	v := open()
	ack := a.SignJSON(sign.RoleCommand, cmd("ack", "00112233445566778899aabbccddeeff"))
	c, err := v.Verify("ack", ack)
	if err != nil || c.Name != "ack" {
		t.Fatalf("first: %v", err)
	}
	if _, err := v.Verify("ack", ack); command.Code(err) != command.CodeReplay {
		t.Fatalf("replay: %v", err)
	}
	// Replay after a restart: the nonce was persisted.
	if _, err := open().Verify("ack", ack); command.Code(err) != command.CodeReplay {
		t.Fatalf("replay after restart: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	a, open := setup(t)
	v := open()
	n := "aaaaaaaaaaaaaaaa"
	for _, tc := range []struct {
		name, topic string
		msg         []byte
		code        string
	}{
		{"other appliance", "rescan", a.SignJSON(sign.RoleCommand, cmd("rescan", n, func(c *command.Command) { c.Appliance = "app2" })), command.CodeTarget},
		{"name differs from topic", "forget", a.SignJSON(sign.RoleCommand, cmd("rescan", n)), command.CodeName},
		{"expired", "rescan", a.SignJSON(sign.RoleCommand, cmd("rescan", n, func(c *command.Command) { c.IssuedAt, c.ExpiresAt = t0.Add(-time.Hour), t0 })), command.CodeExpired},
		{"future", "rescan", a.SignJSON(sign.RoleCommand, cmd("rescan", n, func(c *command.Command) { c.IssuedAt, c.ExpiresAt = t0.Add(time.Hour), t0.Add(2*time.Hour) })), command.CodeFuture},
		{"policy key", "rescan", a.SignJSON(sign.RolePolicy, cmd("rescan", n)), command.CodeSignature},
		{"too long-lived", "rescan", a.SignJSON(sign.RoleCommand, cmd("rescan", n, func(c *command.Command) { c.ExpiresAt = t0.Add(48 * time.Hour) })), command.CodeMalformed},
		{"forget without mac", "forget", a.SignJSON(sign.RoleCommand, cmd("forget", n)), command.CodeMalformed},
		{"short nonce", "rescan", a.SignJSON(sign.RoleCommand, cmd("rescan", "abc")), command.CodeMalformed},
		{"unknown command", "reboot", a.SignJSON(sign.RoleCommand, cmd("reboot", n)), command.CodeMalformed},
		{"unsigned", "rescan", []byte(`{"type":"camwarden.cmd/1"}`), command.CodeMalformed},
	} {
		if _, err := v.Verify(tc.topic, tc.msg); command.Code(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	// None of the refused commands burned the nonce.
	if _, err := v.Verify("forget", a.SignJSON(sign.RoleCommand, cmd("forget", n, func(c *command.Command) {
		c.Args = map[string]string{"mac": "BC:AD:28:00:00:01"}
	}))); err != nil {
		t.Fatal(err)
	}
}
