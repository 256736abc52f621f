package command_test

import (
	"testing"

	"github.com/camwarden/camwarden/ota/command"
)

// FuzzParse: the command document after its signature checks out.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"type":"camwarden.cmd/1","name":"forget","appliance":"app1","nonce":"00112233445566778899aabbccddeeff","issued_at":"2026-03-01T12:00:00Z","expires_at":"2026-03-01T12:05:00Z","args":{"mac":"bc:ad:28:00:00:01"}}`))
	f.Add([]byte(`{"type":"camwarden.cmd/1","name":"ack"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := command.Parse(b)
		if err == nil && (c.Appliance == "" || !c.ExpiresAt.After(c.IssuedAt)) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
