package sign

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// KeySetType is the type field of a key-set document.
const KeySetType = "camwarden.keyset/1"

// Bounds on a key set: a fleet has a handful of keys, and a document the
// root signed must still not be able to make the appliance hold much.
const (
	MaxKeys    = 64
	MaxRevoked = 1024
)

// KeySet is the root-signed list of signing keys.
type KeySet struct {
	Type     string    `json:"type"`
	Version  uint64    `json:"version"` // only ever increases
	IssuedAt time.Time `json:"issued_at"`
	Keys     []Key     `json:"keys"`
	// Revoked are key ids that must never verify again, whatever Keys says.
	Revoked []string `json:"revoked"`
	// PolicyReset, when set, lowers the appliances' policy version floor.
	PolicyReset *PolicyReset `json:"policy_reset,omitempty"`
}

// PolicyReset is the root's answer to a policy signed with a version far
// too high (a typo, or a stolen policy key): without it, that version
// becomes the floor and blocks every later policy for good.
//
// Appliances set their floor to Floor, and from then on refuse every policy
// above Floor that was issued before At: the one that caused the trouble,
// and any replay of it, even while its key is still trusted. A policy issued
// at or after At is judged by the normal rules (policy issue times are whole
// seconds, so At is too: a policy signed in the second of the reset counts
// as after it). A reset is applied once, identified by At, so key sets that
// carry it along change nothing.
type PolicyReset struct {
	Floor uint64    `json:"floor"`
	At    time.Time `json:"at"`
}

// Voids reports whether the reset refuses a policy of version issued at
// issued.
func (r *PolicyReset) Voids(version uint64, issued time.Time) bool {
	return r != nil && version > r.Floor && issued.Before(r.At)
}

// Key is one signing key in a key set.
type Key struct {
	ID        string            `json:"id"`
	Role      Role              `json:"role"`
	Public    ed25519.PublicKey `json:"public"` // base64
	NotBefore time.Time         `json:"not_before"`
	NotAfter  time.Time         `json:"not_after"` // zero: no end
}

// Key returns the key with id, or nil.
func (ks *KeySet) Key(id string) *Key {
	if ks == nil {
		return nil
	}
	for i := range ks.Keys {
		if ks.Keys[i].ID == id {
			return &ks.Keys[i]
		}
	}
	return nil
}

// Validate checks a key set's fields, naming the field.
func (ks *KeySet) Validate() error {
	if ks.Type != KeySetType {
		return fmt.Errorf("type: %q, want %q", ks.Type, KeySetType)
	}
	if ks.Version == 0 {
		return fmt.Errorf("version: must be at least 1")
	}
	if ks.IssuedAt.IsZero() {
		return fmt.Errorf("issued_at: missing")
	}
	if len(ks.Keys) > MaxKeys {
		return fmt.Errorf("keys: %d, more than %d", len(ks.Keys), MaxKeys)
	}
	if len(ks.Revoked) > MaxRevoked {
		return fmt.Errorf("revoked: %d, more than %d", len(ks.Revoked), MaxRevoked)
	}
	seen := map[string]bool{}
	for i, k := range ks.Keys {
		f := fmt.Sprintf("keys[%d]", i)
		if len(k.Public) != ed25519.PublicKeySize {
			return fmt.Errorf("%s.public: %d bytes, want %d", f, len(k.Public), ed25519.PublicKeySize)
		}
		if k.ID != KeyID(k.Public) {
			return fmt.Errorf("%s.id: %q does not name its public key (%s)", f, k.ID, KeyID(k.Public))
		}
		if seen[k.ID] {
			return fmt.Errorf("%s.id: %s listed twice", f, k.ID)
		}
		seen[k.ID] = true
		if _, err := ParseRole(string(k.Role)); err != nil {
			return fmt.Errorf("%s.role: %q: want policy, command or firmware", f, k.Role)
		}
		if k.NotBefore.IsZero() {
			return fmt.Errorf("%s.not_before: missing", f)
		}
		if !k.NotAfter.IsZero() && !k.NotAfter.After(k.NotBefore) {
			return fmt.Errorf("%s.not_after: not after not_before", f)
		}
	}
	for i, id := range ks.Revoked {
		if !validKeyID(id) {
			return fmt.Errorf("revoked[%d]: %q is not a key id", i, id)
		}
	}
	if r := ks.PolicyReset; r != nil {
		if r.At.IsZero() {
			return fmt.Errorf("policy_reset.at: missing")
		}
		if r.At.After(ks.IssuedAt) {
			return fmt.Errorf("policy_reset.at: %s is after the key set's issued_at %s",
				r.At.UTC().Format(time.RFC3339), ks.IssuedAt.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// Marshal encodes the key set for signing.
func (ks *KeySet) Marshal() []byte {
	b, _ := json.MarshalIndent(ks, "", "  ")
	return b
}

// ParseKeySet decodes a key-set document strictly and validates it.
func ParseKeySet(b []byte) (*KeySet, error) {
	var ks KeySet
	if err := decodeStrict(b, &ks); err != nil {
		return nil, fmt.Errorf("sign: key set: %w", err)
	}
	if err := ks.Validate(); err != nil {
		return nil, fmt.Errorf("sign: key set: %w", err)
	}
	return &ks, nil
}

// VerifyKeySet checks that env is a key set signed by root and newer than
// current (nil: none yet), and returns it. An envelope whose version equals
// current's is refused with ErrOldKeySet too: a retained key set is
// delivered again on every reconnect and must not count as news.
func VerifyKeySet(env Envelope, root ed25519.PublicKey, current *KeySet) (*KeySet, error) {
	if env.KeyID != KeyID(root) {
		return nil, fmt.Errorf("sign: key set: signed by %s, not the root key %s: %w", env.KeyID, KeyID(root), ErrUnknownKey)
	}
	if !ed25519.Verify(root, env.Payload, env.Sig) {
		return nil, fmt.Errorf("sign: key set: %w", ErrBadSignature)
	}
	ks, err := ParseKeySet(env.Payload)
	if err != nil {
		return nil, err
	}
	if current != nil && ks.Version <= current.Version {
		return nil, fmt.Errorf("sign: key set: version %d, have %d: %w", ks.Version, current.Version, ErrOldKeySet)
	}
	return ks, nil
}

// Active returns the key of role that a signer should use at now: valid,
// not revoked, newest not_before first. nil when there is none.
func (ks *KeySet) Active(role Role, now time.Time) *Key {
	var best *Key
	for i := range ks.Keys {
		k := &ks.Keys[i]
		if k.Role != role || slices.Contains(ks.Revoked, k.ID) || now.Before(k.NotBefore) ||
			(!k.NotAfter.IsZero() && !now.Before(k.NotAfter)) {
			continue
		}
		if best == nil || k.NotBefore.After(best.NotBefore) {
			best = k
		}
	}
	return best
}
