package sign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// MaxEnvelope bounds an envelope on the wire. It matches the MQTT client's
// payload cap, so anything the broker can hand over can be checked.
const MaxEnvelope = 256 << 10

// Role says what a signing key may sign.
type Role string

const (
	RolePolicy   Role = "policy"
	RoleCommand  Role = "command"
	RoleFirmware Role = "firmware"
)

// Roles lists the signing roles, in a stable order.
var Roles = []Role{RolePolicy, RoleCommand, RoleFirmware}

// ParseRole accepts one of Roles.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("sign: unknown role %q (want policy, command or firmware)", s)
}

// Reasons a verification fails. They are wrapped with context; test with
// errors.Is.
var (
	ErrMalformed    = errors.New("malformed envelope")
	ErrUnknownKey   = errors.New("unknown key")
	ErrRevoked      = errors.New("key revoked")
	ErrWrongRole    = errors.New("key has the wrong role")
	ErrKeyNotValid  = errors.New("key not valid at this time")
	ErrBadSignature = errors.New("bad signature")
	ErrNoKeySet     = errors.New("no key set")
	ErrOldKeySet    = errors.New("key set version not newer")
)

// Envelope is a signed document; see the package doc for the wire form.
type Envelope struct {
	Payload []byte `json:"payload"` // encoding/json writes []byte as standard base64
	KeyID   string `json:"key_id"`
	Sig     []byte `json:"sig"`
}

// KeyID returns the id of a public key.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// ParseEnvelope decodes an envelope strictly: bounded, no unknown fields,
// nothing after the object, a well-formed key id and signature length.
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	if len(b) > MaxEnvelope {
		return e, fmt.Errorf("sign: envelope: %d bytes, more than %d: %w", len(b), MaxEnvelope, ErrMalformed)
	}
	if err := decodeStrict(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("sign: envelope: %v: %w", err, ErrMalformed)
	}
	switch {
	case len(e.Payload) == 0:
		return Envelope{}, fmt.Errorf("sign: envelope: payload: empty: %w", ErrMalformed)
	case !validKeyID(e.KeyID):
		return Envelope{}, fmt.Errorf("sign: envelope: key_id: %q is not 16 hex digits: %w", e.KeyID, ErrMalformed)
	case len(e.Sig) != ed25519.SignatureSize:
		return Envelope{}, fmt.Errorf("sign: envelope: sig: %d bytes, want %d: %w", len(e.Sig), ed25519.SignatureSize, ErrMalformed)
	}
	return e, nil
}

// Marshal encodes the envelope.
func (e Envelope) Marshal() []byte {
	b, _ := json.Marshal(e) // []byte and string fields only: cannot fail
	return b
}

func validKeyID(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// PrivateKey is a signing (or root) key with its role.
type PrivateKey struct {
	ID   string
	Role Role // "" for the root key
	Key  ed25519.PrivateKey
}

// Public returns the public half.
func (k PrivateKey) Public() ed25519.PublicKey { return k.Key.Public().(ed25519.PublicKey) }

// GenerateKey makes a new key for role ("" for a root key).
func GenerateKey(role Role) (PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("sign: generate key: %w", err)
	}
	return PrivateKey{ID: KeyID(pub), Role: role, Key: priv}, nil
}

// Sign signs payload as is.
func Sign(k PrivateKey, payload []byte) Envelope {
	return Envelope{Payload: bytes.Clone(payload), KeyID: k.ID, Sig: ed25519.Sign(k.Key, payload)}
}

// keyFile is the on-disk form of a private key (wardenctl keeps it 0600).
type keyFile struct {
	ID   string `json:"id"`
	Role Role   `json:"role,omitempty"`
	Seed []byte `json:"seed"`
}

// MarshalPrivate encodes k for storage.
func MarshalPrivate(k PrivateKey) []byte {
	b, _ := json.MarshalIndent(keyFile{ID: k.ID, Role: k.Role, Seed: k.Key.Seed()}, "", "  ")
	return append(b, '\n')
}

// ParsePrivate decodes MarshalPrivate's output and checks the id.
func ParsePrivate(b []byte) (PrivateKey, error) {
	var f keyFile
	if err := decodeStrict(b, &f); err != nil {
		return PrivateKey{}, fmt.Errorf("sign: private key: %w", err)
	}
	if len(f.Seed) != ed25519.SeedSize {
		return PrivateKey{}, fmt.Errorf("sign: private key: seed: %d bytes, want %d", len(f.Seed), ed25519.SeedSize)
	}
	k := PrivateKey{Role: f.Role, Key: ed25519.NewKeyFromSeed(f.Seed)}
	k.ID = KeyID(k.Public())
	if f.ID != k.ID {
		return PrivateKey{}, fmt.Errorf("sign: private key: id: %q does not match the key (%s)", f.ID, k.ID)
	}
	return k, nil
}

// ParsePublicKey decodes a base64 (standard) ed25519 public key, the form of
// config policy.root_key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("sign: public key: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("sign: public key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// EncodePublicKey is ParsePublicKey's inverse.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// Verify returns env's payload once the key that signed it is in ks, not
// revoked, of role, valid at now, and the signature is good. now must be a
// trusted time (see ota/policy).
func Verify(env Envelope, ks *KeySet, role Role, now time.Time) ([]byte, error) {
	if ks == nil {
		return nil, fmt.Errorf("sign: verify %s document: %w", role, ErrNoKeySet)
	}
	if slices.Contains(ks.Revoked, env.KeyID) {
		return nil, fmt.Errorf("sign: verify %s document: key %s: %w", role, env.KeyID, ErrRevoked)
	}
	k := ks.Key(env.KeyID)
	if k == nil {
		return nil, fmt.Errorf("sign: verify %s document: key %s (key set v%d): %w", role, env.KeyID, ks.Version, ErrUnknownKey)
	}
	if k.Role != role {
		return nil, fmt.Errorf("sign: verify %s document: key %s has role %s: %w", role, env.KeyID, k.Role, ErrWrongRole)
	}
	if now.Before(k.NotBefore) || (!k.NotAfter.IsZero() && !now.Before(k.NotAfter)) {
		return nil, fmt.Errorf("sign: verify %s document: key %s valid %s..%s, now %s: %w", role, env.KeyID,
			k.NotBefore.UTC().Format(time.RFC3339), k.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrKeyNotValid)
	}
	if !ed25519.Verify(k.Public, env.Payload, env.Sig) {
		return nil, fmt.Errorf("sign: verify %s document: key %s: %w", role, env.KeyID, ErrBadSignature)
	}
	return env.Payload, nil
}
