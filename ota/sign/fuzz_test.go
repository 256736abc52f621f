package sign_test

import (
	"os"
	"testing"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/sign/signtest"
)

// FuzzParseEnvelope feeds envelopes and key sets from the network parsers;
// neither may panic, and whatever verifies must be what was signed.
func FuzzParseEnvelope(f *testing.F) {
	for _, name := range []string{"testdata/envelope.json", "testdata/keyset.json"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	a := signtest.New(f, t0)
	f.Add(a.SignedKeySet())
	f.Add(a.Sign(sign.RolePolicy, []byte(`{"type":"camwarden.policy/1"}`)))
	f.Add([]byte(`{"payload":"","key_id":"","sig":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := sign.ParseEnvelope(b)
		if err != nil {
			return
		}
		if p, err := sign.Verify(env, a.KeySet, sign.RolePolicy, t0.Add(time.Minute)); err == nil && string(p) != string(env.Payload) {
			t.Fatal("verified payload differs from the envelope's")
		}
		_, _ = sign.VerifyKeySet(env, a.Root.Public(), nil)
		_, _ = sign.ParseKeySet(env.Payload)
	})
}
