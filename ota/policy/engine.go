package policy

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/probes/classify"
)

// DefaultSkew is how far in the future a document's issued_at may be when
// the clock is synchronised (clocks across a fleet disagree a little).
const DefaultSkew = 5 * time.Minute

// Source is where a policy came from; a more specific source is larger.
type Source int

const (
	SourceFleet     Source = 1 // camwarden/v1/fleet/policy
	SourceAppliance Source = 2 // camwarden/v1/{id}/policy
)

func (s Source) String() string {
	switch s {
	case SourceFleet:
		return "fleet"
	case SourceAppliance:
		return "appliance"
	}
	return fmt.Sprintf("source(%d)", int(s))
}

func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Source) UnmarshalText(b []byte) error {
	switch string(b) {
	case "fleet":
		*s = SourceFleet
	case "appliance":
		*s = SourceAppliance
	default:
		*s = 0
	}
	return nil
}

// Status is the outcome of handling one policy message.
type Status string

const (
	StatusApplied        Status = "applied"
	StatusReacknowledged Status = "reacknowledged"
	StatusRejected       Status = "rejected"
)

// Reason codes: the first word of Result.Reason for a rejection.
const (
	CodeMalformed       = "malformed"
	CodeOversized       = "oversized"
	CodeUnsigned        = "unsigned"
	CodeBadSignature    = "bad_signature"
	CodeUnknownKey      = "unknown_key"
	CodeRevokedKey      = "revoked_key"
	CodeWrongRole       = "wrong_role"
	CodeKeyNotValid     = "key_not_valid"
	CodeNoKeySet        = "no_key_set"
	CodeOldVersion      = "old_version"
	CodeVoided          = "voided"
	CodeVersionConflict = "version_conflict"
	CodeExpired         = "expired"
	CodeFuture          = "future_dated"
	CodeOutOfScope      = "out_of_scope"
	CodeStore           = "store_failed"
)

// Applied is a policy in force.
type Applied struct {
	Doc        *Document
	Envelope   []byte // as received and stored
	SHA256     string // hex SHA-256 of the signed document bytes
	Source     Source
	Signatures *classify.Set
}

// Result is the outcome of HandlePolicy.
type Result struct {
	Status Status
	// Reason is "code: detail" for a rejection, informational otherwise.
	Reason string
	// Version and SHA256 describe the received document (0/"" when it
	// could not be read).
	Version uint64
	SHA256  string
	// Applied is the policy in force after handling (nil: none).
	Applied *Applied
	// Changed is true when Applied was swapped in by this message.
	Changed bool
}

// Code returns the reason code of a rejection ("" otherwise).
func (r Result) Code() string {
	if r.Status != StatusRejected {
		return ""
	}
	code, _, _ := bytes.Cut([]byte(r.Reason), []byte(":"))
	return string(code)
}

// Options configure an Engine.
type Options struct {
	Dir         string            // state directory (created 0700)
	Root        ed25519.PublicKey // provisioned root key
	ApplianceID string
	Site        string           // optional; matched against scope.sites
	Now         func() time.Time // default time.Now
	ClockSynced func() bool      // default SystemClockSynced
	Skew        time.Duration    // default DefaultSkew
	Base        *classify.Set    // signatures extras merge over; default classify.Default()
	Logger      *slog.Logger     // default slog.Default()
}

// Engine applies the policy rules: it verifies policy documents, keeps the
// version floor, stores accepted policies atomically and then swaps them in.
// It is safe for concurrent use; messages are handled one at a time.
type Engine struct {
	opts  Options
	store *Store
	trust *Trust
	log   *slog.Logger

	mu  sync.Mutex // serialises HandlePolicy and revocation checks
	cur atomic.Pointer[Applied]
}

// Open loads the stored key set and policy (re-verifying both) and returns
// an engine with that policy in force. A stored policy that no longer
// verifies (its key revoked, out of scope) is not loaded, but its version
// still counts for the floor.
func Open(opts Options) (*Engine, error) {
	if opts.ApplianceID == "" {
		return nil, errors.New("policy: no appliance id")
	}
	if opts.Skew == 0 {
		opts.Skew = DefaultSkew
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Base == nil {
		opts.Base = classify.Default()
	}
	st, err := OpenStore(opts.Dir)
	if err != nil {
		return nil, err
	}
	tr, err := NewTrust(st, opts.Root, opts.Now, opts.ClockSynced)
	if err != nil {
		return nil, err
	}
	e := &Engine{opts: opts, store: st, trust: tr, log: opts.Logger.With("component", "policy")}
	raw, err := st.Read(filePolicy)
	if err != nil {
		return nil, err
	}
	if raw != nil {
		floor, _ := tr.floor()
		a, err := e.reverify(raw, tr.KeySet())
		switch {
		case err != nil:
			e.log.Warn("policy: stored policy not loaded", "err", err)
		default:
			e.cur.Store(a)
			if a.Doc.Version > floor {
				// The crash window between renaming policy.json and
				// writing state.json: the stored policy is the truth.
				if err := tr.setFloor(a.Doc.Version, a.Source, a.Doc.IssuedAt); err != nil {
					return nil, err
				}
			}
			if !tr.Now().Before(a.Doc.ExpiresAt) {
				e.log.Warn("policy: stored policy has expired; it stays in force until a newer one arrives", "version", a.Doc.Version)
			}
		}
	}
	tr.OnKeySet(e.keySetChanged)
	return e, nil
}

// storedPolicy is policy.json: the envelope and where it came from.
type storedPolicy struct {
	Source   Source          `json:"source"`
	Envelope json.RawMessage `json:"envelope"`
}

// reverify checks a stored or re-delivered policy that was accepted before:
// signature and key (not revoked, valid when the document was issued) and
// scope. Expiry and the version floor were judged when it was accepted.
func (e *Engine) reverify(raw []byte, ks *sign.KeySet) (*Applied, error) {
	var sp storedPolicy
	if err := json.Unmarshal(raw, &sp); err != nil {
		return nil, fmt.Errorf("policy: stored policy: %w", err)
	}
	env, err := sign.ParseEnvelope(sp.Envelope)
	if err != nil {
		return nil, err
	}
	// The signed issued_at is only trusted after Verify succeeds with it.
	unverified, err := Parse(env.Payload)
	if err != nil {
		return nil, err
	}
	if _, err := sign.Verify(env, ks, sign.RolePolicy, unverified.IssuedAt); err != nil {
		return nil, err
	}
	if !unverified.InScope(e.opts.ApplianceID, e.opts.Site) {
		return nil, fmt.Errorf("policy: stored policy v%d: not in scope for %s", unverified.Version, e.opts.ApplianceID)
	}
	if err := e.trust.Voided(unverified.Version, unverified.IssuedAt); err != nil {
		return nil, fmt.Errorf("policy: stored policy: %w", err)
	}
	return e.build(unverified, sp.Envelope, env.Payload, sp.Source)
}

func (e *Engine) build(doc *Document, envelope, payload []byte, src Source) (*Applied, error) {
	set, err := doc.ClassifierSet(e.opts.Base)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(payload)
	return &Applied{Doc: doc, Envelope: bytes.Clone(envelope), SHA256: hex.EncodeToString(sum[:]), Source: src,
		Signatures: set}, nil
}

// Current is the policy in force, or nil (the caller's local default
// applies).
func (e *Engine) Current() *Applied { return e.cur.Load() }

// Floor is the version floor: only a higher version is applied.
func (e *Engine) Floor() uint64 { v, _ := e.trust.floor(); return v }

// Trust is the engine's key set and trusted time, shared with commands.
func (e *Engine) Trust() *Trust { return e.trust }

// Store is the engine's state directory.
func (e *Engine) Store() *Store { return e.store }

// SetFault installs a hook called at each Step of the accept path; a
// non-nil return aborts there as a crash would. For tests.
func (e *Engine) SetFault(f func(Step) error) { e.store.fault = f }

// HandleKeySet verifies and installs a new key set (see Trust.UpdateKeySet).
func (e *Engine) HandleKeySet(raw []byte) (*sign.KeySet, error) { return e.trust.UpdateKeySet(raw) }

// keySetChanged drops the policy in force when its key is no longer in the
// new key set or was revoked: a revocation means the key may have signed
// things nobody intended.
func (e *Engine) keySetChanged(ks *sign.KeySet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.cur.Load()
	if cur == nil {
		return
	}
	env, err := sign.ParseEnvelope(cur.Envelope)
	if err == nil {
		_, err = sign.Verify(env, ks, sign.RolePolicy, cur.Doc.IssuedAt)
	}
	if err != nil {
		e.log.Warn("policy: key set withdrew the key of the policy in force; dropping it", "version", cur.Doc.Version, "err", err)
		e.cur.Store(nil)
		return
	}
	if err := e.trust.Voided(cur.Doc.Version, cur.Doc.IssuedAt); err != nil {
		e.log.Warn("policy: the root reset the version floor below the policy in force; dropping it", "version", cur.Doc.Version, "err", err)
		e.cur.Store(nil)
	}
}

func reject(code string, err error) Result {
	return Result{Status: StatusRejected, Reason: code + ": " + err.Error()}
}

// signCode maps a verification error to its reason code.
func signCode(err error) string {
	switch {
	case errors.Is(err, sign.ErrRevoked):
		return CodeRevokedKey
	case errors.Is(err, sign.ErrWrongRole):
		return CodeWrongRole
	case errors.Is(err, sign.ErrUnknownKey):
		return CodeUnknownKey
	case errors.Is(err, sign.ErrKeyNotValid):
		return CodeKeyNotValid
	case errors.Is(err, sign.ErrBadSignature):
		return CodeBadSignature
	case errors.Is(err, sign.ErrNoKeySet):
		return CodeNoKeySet
	}
	return CodeMalformed
}

// looksUnsigned tells a bare policy document (or an envelope without a
// signature) from garbage, so the report says what went wrong.
func looksUnsigned(raw []byte) bool {
	var probe struct {
		Type    string `json:"type"`
		Payload []byte `json:"payload"`
		Sig     []byte `json:"sig"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return false
	}
	return probe.Type == DocumentType || (len(probe.Payload) > 0 && len(probe.Sig) == 0)
}

// HandlePolicy applies the rules to one received policy message (a signed
// envelope) from src and returns the outcome. The policy in force changes
// only when the result is StatusApplied, and only after the new policy is
// on disk.
func (e *Engine) HandlePolicy(src Source, raw []byte) Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.handle(src, raw)
	r.Applied = e.cur.Load()
	return r
}

func (e *Engine) handle(src Source, raw []byte) Result {
	if len(raw) > sign.MaxEnvelope {
		return reject(CodeOversized, fmt.Errorf("%d bytes, more than %d", len(raw), sign.MaxEnvelope))
	}
	env, err := sign.ParseEnvelope(raw)
	if err != nil {
		if looksUnsigned(raw) {
			return reject(CodeUnsigned, errors.New("policy is not signed"))
		}
		return reject(CodeMalformed, err)
	}
	sum := sha256.Sum256(env.Payload)
	hash := hex.EncodeToString(sum[:])
	cur := e.cur.Load()
	ks := e.trust.KeySet()

	// The policy in force delivered again (a retained message after a
	// reconnect): acknowledge it. It was accepted under the rules once; its
	// key is checked as of its issue time so that a rotated-out key does not
	// turn the policy in force into a "rejected" report.
	if cur != nil && hash == cur.SHA256 {
		if _, err := sign.Verify(env, ks, sign.RolePolicy, cur.Doc.IssuedAt); err == nil {
			return Result{Status: StatusReacknowledged, Reason: "already in force", Version: cur.Doc.Version, SHA256: hash}
		}
	}
	now := e.trust.Now()
	payload, err := sign.Verify(env, ks, sign.RolePolicy, now)
	if err != nil {
		r := reject(signCode(err), err)
		r.SHA256 = hash
		return r
	}
	doc, err := Parse(payload)
	if err != nil {
		code := CodeMalformed
		if errors.Is(err, ErrOversized) {
			code = CodeOversized
		}
		r := reject(code, err)
		r.SHA256 = hash
		return r
	}
	res := func(r Result) Result { r.Version, r.SHA256 = doc.Version, hash; return r }
	if err := e.store.hit(StepVerified); err != nil {
		return res(reject(CodeStore, err))
	}
	if !doc.InScope(e.opts.ApplianceID, e.opts.Site) {
		return res(reject(CodeOutOfScope, fmt.Errorf("scope appliances=%v sites=%v does not include %s (site %q)",
			doc.Scope.Appliances, doc.Scope.Sites, e.opts.ApplianceID, e.opts.Site)))
	}
	if e.trust.ClockSynced() && doc.IssuedAt.After(now.Add(e.opts.Skew)) {
		return res(reject(CodeFuture, fmt.Errorf("issued_at %s is more than %s after %s",
			doc.IssuedAt.UTC().Format(time.RFC3339), e.opts.Skew, now.UTC().Format(time.RFC3339))))
	}
	if !now.Before(doc.ExpiresAt) {
		return res(reject(CodeExpired, fmt.Errorf("expired at %s (trusted time %s)",
			doc.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))))
	}
	if err := e.trust.Voided(doc.Version, doc.IssuedAt); err != nil {
		return res(reject(CodeVoided, err))
	}
	floor, floorSrc := e.trust.floor()
	switch {
	case doc.Version < floor:
		return res(reject(CodeOldVersion, fmt.Errorf("version %d, version %d already applied", doc.Version, floor)))
	case doc.Version == floor && cur != nil && cur.Doc.Version == floor && src > cur.Source:
		// Same version from a more specific topic: the appliance's own
		// policy beats the fleet's, whichever arrived first.
	case doc.Version == floor && floorSrc == 0:
		return res(reject(CodeOldVersion, fmt.Errorf("version %d is the floor the root set; a policy needs a higher one", floor)))
	case doc.Version == floor && floorSrc == src:
		return res(reject(CodeVersionConflict, fmt.Errorf("version %d already applied with different content (sha256 %s)", floor, shaOf(cur))))
	case doc.Version == floor:
		return res(reject(CodeOldVersion, fmt.Errorf("version %d already applied from the %s topic", floor, floorSrc)))
	}
	a, err := e.build(doc, raw, payload, src)
	if err != nil {
		return res(reject(CodeMalformed, err))
	}
	if err := e.commit(a); err != nil {
		return res(reject(CodeStore, err))
	}
	e.log.Info("policy: applied", "version", doc.Version, "source", src, "sha256", hash)
	return res(Result{Status: StatusApplied, Reason: fmt.Sprintf("version %d from the %s topic", doc.Version, src), Changed: true})
}

func shaOf(a *Applied) string {
	if a == nil {
		return "unknown"
	}
	return a.SHA256
}

// commit stores a, raises the floor, and only then swaps a in. A failure
// (or a crash) at any point leaves the previous policy in force in memory,
// and on disk either the previous policy or the complete new one, which the
// next start verifies again.
func (e *Engine) commit(a *Applied) error {
	b, err := json.Marshal(storedPolicy{Source: a.Source, Envelope: a.Envelope})
	if err != nil {
		return err
	}
	if err := e.store.write(filePolicy, b, true); err != nil {
		return fmt.Errorf("policy: store policy v%d: %w", a.Doc.Version, err)
	}
	if err := e.store.hit(StepSwap); err != nil {
		return fmt.Errorf("policy: store policy v%d: %w", a.Doc.Version, err)
	}
	if err := e.trust.setFloor(a.Doc.Version, a.Source, a.Doc.IssuedAt); err != nil {
		return fmt.Errorf("policy: store version floor %d: %w", a.Doc.Version, err)
	}
	e.cur.Store(a)
	return nil
}
