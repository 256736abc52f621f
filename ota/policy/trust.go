package policy

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
)

// Trust is what every signed down-link document is checked against: the
// provisioned root key, the newest root-signed key set, and trusted time.
//
// Trusted time is the later of the system clock (only once the clock is
// synchronised) and the newest issued_at of any document accepted so far.
// A board without a real-time clock boots in 1970 and must not accept a
// policy that expired long ago; the newest signed time is a lower bound on
// the real time that survives restarts because it is persisted.
type Trust struct {
	root   ed25519.PublicKey
	store  *Store
	now    func() time.Time
	synced func() bool

	ks atomic.Pointer[sign.KeySet]

	mu     sync.Mutex // serialises writes of the key set and of state.json
	state  state
	onKeys []func(*sign.KeySet)
}

// state is state.json.
type state struct {
	// Floor is the version of the newest policy ever applied: nothing at or
	// below it is applied again.
	Floor uint64 `json:"version_floor"`
	// FloorSource is the source of the policy that set the floor.
	FloorSource Source `json:"floor_source,omitempty"`
	// NewestIssued is the newest issued_at of an accepted signed document.
	NewestIssued time.Time `json:"newest_issued_at"`
	// Reset is the newest root-signed policy reset applied (see
	// sign.PolicyReset); it keeps voiding old policies after later key sets
	// stop carrying it.
	Reset *sign.PolicyReset `json:"policy_reset,omitempty"`
}

// NewTrust loads the stored key set (re-verifying it against root) and the
// persisted newest signed time. now and synced default to the system clock
// and SystemClockSynced.
func NewTrust(store *Store, root ed25519.PublicKey, now func() time.Time, synced func() bool) (*Trust, error) {
	if len(root) != ed25519.PublicKeySize {
		return nil, errors.New("policy: trust: no root key (config policy.root_key)")
	}
	if now == nil {
		now = time.Now
	}
	if synced == nil {
		synced = SystemClockSynced
	}
	t := &Trust{root: root, store: store, now: now, synced: synced}
	b, err := store.Read(fileState)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if err := json.Unmarshal(b, &t.state); err != nil {
			// A torn state file is impossible with atomic writes; a
			// corrupted one must not stop the appliance, and the stored
			// policy's own version re-establishes the floor.
			t.state = state{}
		}
	}
	raw, err := store.Read(fileKeySet)
	if err != nil {
		return nil, err
	}
	if raw != nil {
		env, err := sign.ParseEnvelope(raw)
		if err == nil {
			var ks *sign.KeySet
			if ks, err = sign.VerifyKeySet(env, root, nil); err == nil {
				t.ks.Store(ks)
				t.state.NewestIssued = later(t.state.NewestIssued, ks.IssuedAt)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("policy: stored key set: %w", err)
		}
		// A crash between storing the key set and state.json: the stored
		// key set's reset is applied now.
		if t.applyResetLocked(t.ks.Load()) {
			if err := t.saveLocked(); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// applyResetLocked takes over ks's policy reset if it is newer than the one
// applied: the floor drops to the reset's. It reports whether state changed.
func (t *Trust) applyResetLocked(ks *sign.KeySet) bool {
	r := ks.PolicyReset
	if r == nil || (t.state.Reset != nil && !r.At.After(t.state.Reset.At)) {
		return false
	}
	t.state.Reset = &sign.PolicyReset{Floor: r.Floor, At: r.At.UTC()}
	t.state.Floor, t.state.FloorSource = r.Floor, 0
	return true
}

// Voided returns an error when the root's policy reset refuses a policy of
// version issued at issued (see sign.PolicyReset), nil otherwise.
func (t *Trust) Voided(version uint64, issued time.Time) error {
	t.mu.Lock()
	r := t.state.Reset
	t.mu.Unlock()
	if r.Voids(version, issued) {
		return fmt.Errorf("version %d was issued at %s, before the root's reset of the version floor to %d at %s",
			version, issued.UTC().Format(time.RFC3339), r.Floor, r.At.Format(time.RFC3339))
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Now is trusted time.
func (t *Trust) Now() time.Time {
	t.mu.Lock()
	newest := t.state.NewestIssued
	t.mu.Unlock()
	if t.synced() {
		return later(t.now(), newest)
	}
	return newest
}

// ClockSynced reports whether the system clock counts; without it trusted
// time is only a lower bound, so "issued in the future" cannot be judged.
func (t *Trust) ClockSynced() bool { return t.synced() }

// KeySet is the key set in force (nil until the first arrives).
func (t *Trust) KeySet() *sign.KeySet { return t.ks.Load() }

// OnKeySet registers f to run after a new key set is in force.
func (t *Trust) OnKeySet(f func(*sign.KeySet)) {
	t.mu.Lock()
	t.onKeys = append(t.onKeys, f)
	t.mu.Unlock()
}

// UpdateKeySet verifies a root-signed key set newer than the current one,
// stores it atomically and swaps it in. An equal version is refused with
// sign.ErrOldKeySet (retained messages come back on every reconnect).
func (t *Trust) UpdateKeySet(raw []byte) (*sign.KeySet, error) {
	env, err := sign.ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	ks, err := sign.VerifyKeySet(env, t.root, t.ks.Load())
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	if err := t.store.Write(fileKeySet, raw); err != nil {
		t.mu.Unlock()
		return nil, err
	}
	t.ks.Store(ks)
	// One write for the reset and the newer signed time.
	changed := t.applyResetLocked(ks)
	if ks.IssuedAt.After(t.state.NewestIssued) {
		t.state.NewestIssued, changed = ks.IssuedAt.UTC(), true
	}
	if changed {
		err = t.saveLocked()
	}
	hooks := slices.Clone(t.onKeys)
	t.mu.Unlock()
	for _, f := range hooks {
		f(ks)
	}
	return ks, err
}

// Verify parses an envelope and verifies it for role at trusted time.
func (t *Trust) Verify(raw []byte, role sign.Role) ([]byte, error) {
	env, err := sign.ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	return sign.Verify(env, t.KeySet(), role, t.Now())
}

// Observe moves trusted time forward to issued (an accepted document's
// signed time) and persists it.
func (t *Trust) Observe(issued time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.observeLocked(issued)
}

func (t *Trust) observeLocked(issued time.Time) error {
	if !issued.After(t.state.NewestIssued) {
		return nil
	}
	t.state.NewestIssued = issued.UTC()
	return t.saveLocked()
}

func (t *Trust) saveLocked() error {
	b, _ := json.Marshal(t.state)
	return t.store.Write(fileState, b)
}

// floor returns the persisted version floor and its source.
func (t *Trust) floor() (uint64, Source) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state.Floor, t.state.FloorSource
}

// setFloor persists a new floor and newest signed time in one write.
func (t *Trust) setFloor(v uint64, src Source, issued time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state.Floor, t.state.FloorSource = v, src
	t.state.NewestIssued = later(t.state.NewestIssued, issued.UTC())
	return t.saveLocked()
}
