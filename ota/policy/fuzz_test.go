package policy_test

import (
	"os"
	"testing"

	"github.com/camwarden/camwarden/ota/policy"
)

// FuzzParse: a policy document is network input once its signature checks
// out (a careless signer is still a source of hostile bytes).
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/policy.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"camwarden.policy/1","version":1}`))
	f.Add([]byte(`{"type":"camwarden.policy/1","version":1,"issued_at":"2026-01-01T00:00:00Z","expires_at":"2027-01-01T00:00:00Z","scope":{"appliances":["*"]},"flagged_makers":["hikvision"],"hold_time":"-1s"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := policy.Parse(b)
		if err != nil {
			return
		}
		if _, err := d.ClassifierSet(nil); err != nil {
			t.Fatalf("valid document's signatures do not load: %v", err)
		}
	})
}
