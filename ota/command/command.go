package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"sync"
	"time"

	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/sign"
)

// Type is the type field of a command document.
const Type = "camwarden.cmd/1"

// SchemaResult is the schema of cmd/{name}/res.
const SchemaResult = "camwarden.cmd_result/1"

// Command names.
const (
	Ack    = "ack"    // acknowledge a cut (args: source, optional)
	Rescan = "rescan" // rescan the VLAN now
	Forget = "forget" // forget a device (args: mac)
)

// Names are the commands an appliance accepts.
var Names = []string{Ack, Rescan, Forget}

// Bounds: a command lives at most MaxLifetime, so the nonces to remember
// are bounded by the command rate; MaxNonces bounds them anyway.
const (
	MaxDocument = 8 << 10
	MaxLifetime = 24 * time.Hour
	MaxNonces   = 4096
)

// Command is a signed command document.
type Command struct {
	Type      string            `json:"type"`
	Name      string            `json:"name"`
	Appliance string            `json:"appliance"`
	Nonce     string            `json:"nonce"` // 16-64 hex digits, unique per command
	IssuedAt  time.Time         `json:"issued_at"`
	ExpiresAt time.Time         `json:"expires_at"`
	Args      map[string]string `json:"args,omitempty"`
}

// Result is the body of cmd/{name}/res (the glue adds the common header).
type Result struct {
	Name   string `json:"name"`
	Nonce  string `json:"nonce,omitempty"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`  // reason code when !OK
	Reason string `json:"reason,omitempty"` // detail
}

// Reason codes of a refused command.
const (
	CodeMalformed = "malformed"
	CodeSignature = "signature"
	CodeTarget    = "wrong_appliance"
	CodeName      = "wrong_name"
	CodeExpired   = "expired"
	CodeFuture    = "future_dated"
	CodeReplay    = "replayed"
	CodeFull      = "nonce_store_full"
	CodeStore     = "store_failed"
	CodeFailed    = "failed" // verified, but carrying it out failed
)

// Error is a refusal with its code.
type Error struct {
	Code string
	Err  error
}

func (e *Error) Error() string { return e.Code + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func refuse(code string, format string, a ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, a...)}
}

var (
	nonceRE = regexp.MustCompile(`^[0-9a-f]{16,64}$`)
	argRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// Parse decodes a command strictly and checks its fields.
func Parse(b []byte) (*Command, error) {
	if len(b) > MaxDocument {
		return nil, refuse(CodeMalformed, "command: %d bytes, more than %d", len(b), MaxDocument)
	}
	var c Command
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, refuse(CodeMalformed, "command: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, refuse(CodeMalformed, "command: data after the JSON object")
	}
	switch {
	case c.Type != Type:
		return nil, refuse(CodeMalformed, "command: type: %q, want %q", c.Type, Type)
	case c.Name != Ack && c.Name != Rescan && c.Name != Forget:
		return nil, refuse(CodeMalformed, "command: name: %q, want ack, rescan or forget", c.Name)
	case c.Appliance == "":
		return nil, refuse(CodeMalformed, "command: appliance: missing")
	case !nonceRE.MatchString(c.Nonce):
		return nil, refuse(CodeMalformed, "command: nonce: want 16-64 lower-case hex digits")
	case c.IssuedAt.IsZero() || c.ExpiresAt.IsZero():
		return nil, refuse(CodeMalformed, "command: issued_at and expires_at are required")
	case !c.ExpiresAt.After(c.IssuedAt):
		return nil, refuse(CodeMalformed, "command: expires_at: not after issued_at")
	case c.ExpiresAt.Sub(c.IssuedAt) > MaxLifetime:
		return nil, refuse(CodeMalformed, "command: expires_at: more than %s after issued_at", MaxLifetime)
	case len(c.Args) > 8:
		return nil, refuse(CodeMalformed, "command: args: more than 8")
	}
	for k, v := range c.Args {
		if !argRE.MatchString(k) || len(v) > 256 {
			return nil, refuse(CodeMalformed, "command: args[%s]: bad name or value longer than 256", k)
		}
	}
	if c.Name == Forget {
		if hw, err := net.ParseMAC(c.Args["mac"]); err != nil || len(hw) != 6 {
			return nil, refuse(CodeMalformed, "command: args[mac]: %q is not a MAC address", c.Args["mac"])
		}
	}
	return &c, nil
}

// Verifier checks signed commands for one appliance and refuses replays:
// every accepted nonce is persisted (before the command runs) and remembered
// until its command expires.
type Verifier struct {
	appliance string
	trust     *policy.Trust
	store     *policy.Store
	skew      time.Duration

	mu     sync.Mutex
	nonces map[string]time.Time // nonce -> expiry
}

const nonceFile = "nonces.json"

// NewVerifier loads the persisted nonces. trust and store are the policy
// engine's (Engine.Trust, Engine.Store): the same key set and trusted time.
func NewVerifier(appliance string, trust *policy.Trust, store *policy.Store) (*Verifier, error) {
	v := &Verifier{appliance: appliance, trust: trust, store: store, skew: policy.DefaultSkew, nonces: map[string]time.Time{}}
	b, err := store.Read(nonceFile)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if err := json.Unmarshal(b, &v.nonces); err != nil {
			return nil, fmt.Errorf("command: stored nonces: %w", err)
		}
	}
	return v, nil
}

// Verify checks a signed command received on cmd/{name}: signature (role
// command), name matching the topic, target appliance, time window and
// nonce. On success the nonce is on disk before Verify returns, so the
// command can never run twice, even across a crash.
func (v *Verifier) Verify(name string, raw []byte) (*Command, error) {
	payload, err := v.trust.Verify(raw, sign.RoleCommand)
	if err != nil {
		if errors.Is(err, sign.ErrMalformed) {
			return nil, &Error{Code: CodeMalformed, Err: err}
		}
		return nil, &Error{Code: CodeSignature, Err: err}
	}
	c, err := Parse(payload)
	if err != nil {
		return nil, err
	}
	if c.Name != name {
		return c, refuse(CodeName, "command %q sent on cmd/%s", c.Name, name)
	}
	if c.Appliance != v.appliance {
		return c, refuse(CodeTarget, "command for %q, this is %q", c.Appliance, v.appliance)
	}
	now := v.trust.Now()
	if !now.Before(c.ExpiresAt) {
		return c, refuse(CodeExpired, "expired at %s (trusted time %s)", c.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if v.trust.ClockSynced() && c.IssuedAt.After(now.Add(v.skew)) {
		return c, refuse(CodeFuture, "issued_at %s is in the future", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, seen := v.nonces[c.Nonce]; seen {
		return c, refuse(CodeReplay, "nonce %s already used", c.Nonce)
	}
	for n, exp := range v.nonces {
		if !now.Before(exp) {
			delete(v.nonces, n)
		}
	}
	if len(v.nonces) >= MaxNonces {
		return c, refuse(CodeFull, "%d unexpired commands remembered", len(v.nonces))
	}
	v.nonces[c.Nonce] = c.ExpiresAt.UTC()
	b, _ := json.Marshal(v.nonces)
	if err := v.store.Write(nonceFile, b); err != nil {
		delete(v.nonces, c.Nonce)
		return c, &Error{Code: CodeStore, Err: err}
	}
	// A signed, accepted command carries a real time: it moves trusted
	// time forward like a policy does.
	if err := v.trust.Observe(c.IssuedAt); err != nil {
		return c, &Error{Code: CodeStore, Err: err}
	}
	return c, nil
}

// Code is the reason code of a Verify error ("" for nil).
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return CodeFailed
	}
	return ""
}
