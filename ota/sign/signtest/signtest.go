// Package signtest is a test authority: a root key and one signing key per
// role, with helpers to issue key sets and sign documents. Test support
// only; it keeps private keys in memory and must never be used to sign
// anything real.
package signtest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
)

// Authority holds a root key, the current signing keys and the key set.
type Authority struct {
	t      testing.TB
	Root   sign.PrivateKey
	Keys   map[sign.Role]sign.PrivateKey // the active key per role
	KeySet *sign.KeySet
}

// New makes a root key and one signing key per role valid from an hour
// before now for a year, in key set version 1 issued at now.
func New(t testing.TB, now time.Time) *Authority {
	t.Helper()
	root, err := sign.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	a := &Authority{t: t, Root: root, Keys: map[sign.Role]sign.PrivateKey{},
		KeySet: &sign.KeySet{Type: sign.KeySetType, Version: 1, IssuedAt: now.UTC(), Revoked: []string{}}}
	for _, r := range sign.Roles {
		a.AddKey(r, now.Add(-time.Hour), now.Add(365*24*time.Hour))
	}
	return a
}

// RootPublic is the base64 root key, as in config policy.root_key.
func (a *Authority) RootPublic() string { return sign.EncodePublicKey(a.Root.Public()) }

// AddKey makes a new key for role, lists it in the key set (without bumping
// the version) and makes it the active key of the role.
func (a *Authority) AddKey(role sign.Role, notBefore, notAfter time.Time) sign.PrivateKey {
	a.t.Helper()
	k, err := sign.GenerateKey(role)
	if err != nil {
		a.t.Fatal(err)
	}
	a.KeySet.Keys = append(a.KeySet.Keys, sign.Key{ID: k.ID, Role: role, Public: k.Public(),
		NotBefore: notBefore.UTC(), NotAfter: notAfter.UTC()})
	a.Keys[role] = k
	return k
}

// Revoke moves id from the keys to the revoked list (without bumping the
// version).
func (a *Authority) Revoke(id string) {
	a.KeySet.Keys = slices.DeleteFunc(a.KeySet.Keys, func(k sign.Key) bool { return k.ID == id })
	a.KeySet.Revoked = append(a.KeySet.Revoked, id)
}

// Bump increases the key-set version and sets its issue time.
func (a *Authority) Bump(now time.Time) {
	a.KeySet.Version++
	a.KeySet.IssuedAt = now.UTC()
}

// SignedKeySet is the current key set signed by the root, as published.
func (a *Authority) SignedKeySet() []byte {
	a.t.Helper()
	if err := a.KeySet.Validate(); err != nil {
		a.t.Fatalf("signtest: key set: %v", err)
	}
	return sign.Sign(a.Root, a.KeySet.Marshal()).Marshal()
}

// Sign signs payload with the active key of role.
func (a *Authority) Sign(role sign.Role, payload []byte) []byte {
	return sign.Sign(a.Keys[role], payload).Marshal()
}

// SignJSON marshals v and signs it with the active key of role.
func (a *Authority) SignJSON(role sign.Role, v any) []byte {
	a.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.Sign(role, b)
}
