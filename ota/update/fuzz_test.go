package update

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
)

func goldenTrust(t testing.TB) (*fakeTrust, []byte) {
	raw, err := os.ReadFile("testdata/keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	env, err := sign.ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := sign.ParseKeySet(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := os.ReadFile("testdata/release-1.5.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return &fakeTrust{ks: ks, now: ks.IssuedAt.Add(time.Hour)}, rel
}

func TestGoldenRelease(t *testing.T) {
	trust, raw := goldenTrust(t)
	r, err := VerifyRelease(bytes.TrimSpace(raw), trust)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != "1.5.0" || r.SecurityEpoch != 2 || len(r.Targets) != 2 || r.Target("armv7").Size != 26 {
		t.Fatalf("%+v", r)
	}
	trust.now = r.Expires
	if _, err := VerifyRelease(raw, trust); CodeOf(err) != CodeExpired {
		t.Fatalf("at expiry: %v", err)
	}
}

// FuzzVerifyRelease feeds release metadata as a repository would serve it:
// no panic, and nothing but the signed document verifies.
func FuzzVerifyRelease(f *testing.F) {
	trust, raw := goldenTrust(f)
	f.Add(raw)
	f.Add([]byte(`{"payload":"e30=","key_id":"0011223344556677","sig":"` + string(bytes.Repeat([]byte("A"), 86)) + `=="}`))
	want, _ := sign.ParseEnvelope(bytes.TrimSpace(raw))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := VerifyRelease(b, trust)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without a reason code: %v", err)
			}
			return
		}
		env, _ := sign.ParseEnvelope(b)
		if !bytes.Equal(env.Payload, want.Payload) || r.Validate() != nil {
			t.Fatalf("verified a document that was not signed: %s", env.Payload)
		}
	})
}

// FuzzParseRelease feeds release documents (the payload, after the
// signature): no panic, and what parses validates and round-trips.
func FuzzParseRelease(f *testing.F) {
	_, raw := goldenTrust(f)
	env, _ := sign.ParseEnvelope(bytes.TrimSpace(raw))
	f.Add(env.Payload)
	f.Add([]byte(`{"type":"camwarden.release/1","targets":[{"url":"../../etc/passwd"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRelease(b)
		if err != nil {
			return
		}
		if _, err := ParseRelease(r.Marshal()); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzParseJob feeds ota/job payloads: no panic; an accepted job has a
// safe version and an https repository.
func FuzzParseJob(f *testing.F) {
	if b, err := os.ReadFile("testdata/job.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":"1.0","repository":"http://x/"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := ParseJob(b)
		if err != nil {
			return
		}
		if !ValidVersion(j.Version) || ReleasePath(j.Version) != "releases/"+j.Version+".json" {
			t.Fatalf("job %+v", j)
		}
		if _, err := CheckURL(j.Repository); err != nil {
			t.Fatal(err)
		}
	})
}
