package sign_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/sign/signtest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestVerifyReasons(t *testing.T) {
	a := signtest.New(t, t0)
	payload := []byte(`{"hello":"world"}`)
	good, _ := sign.ParseEnvelope(a.Sign(sign.RolePolicy, payload))
	got, err := sign.Verify(good, a.KeySet, sign.RolePolicy, t0)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("good envelope: %q, %v", got, err)
	}

	tampered := good
	tampered.Payload = []byte(`{"hello":"World"}`)
	stranger, _ := sign.GenerateKey(sign.RolePolicy)
	cmd, _ := sign.ParseEnvelope(a.Sign(sign.RoleCommand, payload))
	revokedKS := *a.KeySet
	revokedKS.Revoked = []string{good.KeyID}

	for _, tc := range []struct {
		name string
		env  sign.Envelope
		ks   *sign.KeySet
		role sign.Role
		now  time.Time
		want error
	}{
		{"tampered payload", tampered, a.KeySet, sign.RolePolicy, t0, sign.ErrBadSignature},
		{"unknown key", sign.Sign(stranger, payload), a.KeySet, sign.RolePolicy, t0, sign.ErrUnknownKey},
		{"wrong role", cmd, a.KeySet, sign.RolePolicy, t0, sign.ErrWrongRole},
		{"revoked", good, &revokedKS, sign.RolePolicy, t0, sign.ErrRevoked},
		{"before not_before", good, a.KeySet, sign.RolePolicy, t0.Add(-2 * time.Hour), sign.ErrKeyNotValid},
		{"after not_after", good, a.KeySet, sign.RolePolicy, t0.Add(400 * 24 * time.Hour), sign.ErrKeyNotValid},
		{"no key set", good, nil, sign.RolePolicy, t0, sign.ErrNoKeySet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := sign.Verify(tc.env, tc.ks, tc.role, tc.now)
			if !errors.Is(err, tc.want) || p != nil {
				t.Fatalf("got %q, %v; want %v", p, err, tc.want)
			}
		})
	}
}

func TestEnvelopeWireForm(t *testing.T) {
	a := signtest.New(t, t0)
	raw := a.Sign(sign.RolePolicy, []byte("x"))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m["payload"] != "eA==" || m["key_id"] != a.Keys[sign.RolePolicy].ID {
		t.Fatalf("wire form %s", raw)
	}
	for name, in := range map[string]string{
		"unknown field": `{"payload":"eA==","key_id":"0011223344556677","sig":"` + b64(64) + `","x":1}`,
		"short sig":     `{"payload":"eA==","key_id":"0011223344556677","sig":"` + b64(63) + `"}`,
		"bad key id":    `{"payload":"eA==","key_id":"0011223344556677aa","sig":"` + b64(64) + `"}`,
		"upper key id":  `{"payload":"eA==","key_id":"00112233445566AA","sig":"` + b64(64) + `"}`,
		"no payload":    `{"key_id":"0011223344556677","sig":"` + b64(64) + `"}`,
		"trailing":      `{"payload":"eA==","key_id":"0011223344556677","sig":"` + b64(64) + `"} {}`,
		"not json":      `hello`,
		"oversized":     `{"payload":"` + string(bytes.Repeat([]byte("A"), sign.MaxEnvelope)) + `"}`,
	} {
		if _, err := sign.ParseEnvelope([]byte(in)); !errors.Is(err, sign.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func b64(n int) string {
	b, _ := json.Marshal(make([]byte, n))
	return string(b[1 : len(b)-1])
}

func TestKeySetChain(t *testing.T) {
	a := signtest.New(t, t0)
	root := a.Root.Public()
	env, _ := sign.ParseEnvelope(a.SignedKeySet())
	ks1, err := sign.VerifyKeySet(env, root, nil)
	if err != nil || ks1.Version != 1 || len(ks1.Keys) != 3 {
		t.Fatalf("v1: %+v %v", ks1, err)
	}
	// The same version again (a retained redelivery) is not news.
	if _, err := sign.VerifyKeySet(env, root, ks1); !errors.Is(err, sign.ErrOldKeySet) {
		t.Fatalf("same version: %v", err)
	}
	// Signed by a signing key instead of the root.
	byPolicy, _ := sign.ParseEnvelope(a.Sign(sign.RolePolicy, a.KeySet.Marshal()))
	if _, err := sign.VerifyKeySet(byPolicy, root, nil); !errors.Is(err, sign.ErrUnknownKey) {
		t.Fatalf("key set signed by a policy key: %v", err)
	}
	// Rotation: a new policy key, the old one revoked, version 2.
	old := a.Keys[sign.RolePolicy]
	a.AddKey(sign.RolePolicy, t0, t0.Add(time.Hour*24))
	a.Revoke(old.ID)
	a.Bump(t0.Add(time.Minute))
	env2, _ := sign.ParseEnvelope(a.SignedKeySet())
	ks2, err := sign.VerifyKeySet(env2, root, ks1)
	if err != nil {
		t.Fatal(err)
	}
	oldDoc, _ := sign.ParseEnvelope(sign.Sign(old, []byte("doc")).Marshal())
	if _, err := sign.Verify(oldDoc, ks2, sign.RolePolicy, t0); !errors.Is(err, sign.ErrRevoked) {
		t.Fatalf("old key after revocation: %v", err)
	}
	if k := ks2.Active(sign.RolePolicy, t0.Add(time.Minute)); k == nil || k.ID != a.Keys[sign.RolePolicy].ID {
		t.Fatalf("active policy key %+v", k)
	}
	// Downgrade to v1 is refused.
	if _, err := sign.VerifyKeySet(env, root, ks2); !errors.Is(err, sign.ErrOldKeySet) {
		t.Fatalf("downgrade: %v", err)
	}
}

func TestKeySetValidate(t *testing.T) {
	a := signtest.New(t, t0)
	for name, mut := range map[string]func(ks *sign.KeySet){
		"type":        func(ks *sign.KeySet) { ks.Type = "x" },
		"version":     func(ks *sign.KeySet) { ks.Version = 0 },
		"id mismatch": func(ks *sign.KeySet) { ks.Keys[0].ID = "0000000000000000" },
		"role":        func(ks *sign.KeySet) { ks.Keys[0].Role = "root" },
		"window":      func(ks *sign.KeySet) { ks.Keys[0].NotAfter = ks.Keys[0].NotBefore },
		"short key":   func(ks *sign.KeySet) { ks.Keys[0].Public = ks.Keys[0].Public[:31] },
		"duplicate":   func(ks *sign.KeySet) { ks.Keys = append(ks.Keys, ks.Keys[0]) },
		"revoked id":  func(ks *sign.KeySet) { ks.Revoked = []string{"nope"} },
		"reset no at": func(ks *sign.KeySet) { ks.PolicyReset = &sign.PolicyReset{Floor: 3} },
		"reset after issue": func(ks *sign.KeySet) {
			ks.PolicyReset = &sign.PolicyReset{Floor: 3, At: ks.IssuedAt.Add(time.Hour)}
		},
	} {
		ks := *a.KeySet
		ks.Keys = append([]sign.Key(nil), a.KeySet.Keys...)
		mut(&ks)
		if _, err := sign.ParseKeySet(ks.Marshal()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPrivateKeyFile(t *testing.T) {
	k, _ := sign.GenerateKey(sign.RoleCommand)
	back, err := sign.ParsePrivate(sign.MarshalPrivate(k))
	if err != nil || back.ID != k.ID || back.Role != sign.RoleCommand || !bytes.Equal(back.Key, k.Key) {
		t.Fatalf("round trip: %v", err)
	}
	other, _ := sign.GenerateKey(sign.RoleCommand)
	f := bytes.Replace(sign.MarshalPrivate(k), []byte(k.ID), []byte(other.ID), 1)
	if _, err := sign.ParsePrivate(f); err == nil {
		t.Fatal("mismatched id accepted")
	}
	pub, err := sign.ParsePublicKey(sign.EncodePublicKey(k.Public()))
	if err != nil || !pub.Equal(ed25519.PublicKey(k.Public())) {
		t.Fatal(err)
	}
}
