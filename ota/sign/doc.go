// Package sign holds camwarden's signed envelopes and the two-tier key
// hierarchy that policies, commands and firmware releases chain to.
//
// # Envelope
//
// Every signed document travels as one JSON object:
//
//	{"payload": "<base64 of the document bytes>",
//	 "key_id":  "<16 lower-case hex digits>",
//	 "sig":     "<base64 of the 64-byte ed25519 signature>"}
//
// The signature is ed25519 over the payload bytes exactly as they are after
// base64 decoding. Nothing is canonicalised: a verifier never re-encodes the
// payload, it checks the bytes and then parses those same bytes. Unknown
// envelope fields are refused, and envelopes above MaxEnvelope bytes are
// refused before parsing. A key's id is the first 8 bytes of SHA-256 over
// its 32-byte public key, in hex, so an id names exactly one key.
//
// # Keys
//
// The root key is kept offline. Its public half is provisioned on every
// appliance (config policy.root_key, base64). The root key signs only key
// sets; a KeySet (type camwarden.keyset/1) lists the current signing keys,
// each with one role (policy, command or firmware) and a not_before /
// not_after validity, a version that only ever increases, and the ids of
// revoked keys. Signing keys sign documents of their role. Rotating or
// revoking a signing key is a new key set pushed retained on
// camwarden/v1/fleet/keys: no firmware update is needed.
//
// Verify returns an envelope's payload only after the key is found in the
// key set, is not revoked, has the role asked for, is valid at the given
// (trusted) time and the signature checks out; its errors are typed
// (ErrUnknownKey, ErrRevoked, ErrWrongRole, ErrKeyNotValid, ErrBadSignature)
// so callers can report the reason.
//
// This package must not read clocks, files or the network: time, key sets
// and bytes are handed in. Rotating the root key itself needs a new
// provisioned root_key and is out of its scope.
package sign
