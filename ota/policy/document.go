package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes/classify"
)

// DocumentType is the type field of a policy document.
const DocumentType = "camwarden.policy/1"

// MaxDocument bounds a policy document. Its signed envelope (base64, so a
// third larger) must still fit the MQTT client's 256 KiB payload cap.
const MaxDocument = 160 << 10

// Bounds on lists, so a signed but careless document cannot make the
// appliance hold much.
const (
	maxList  = 1024
	maxAllow = 4096
)

// Duration is a time.Duration written as Go duration text ("10m", "1h30m").
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Scope says which appliances a policy is for. "*" in Appliances means the
// whole fleet; an empty scope is refused so that nobody pushes a
// fleet-wide policy by forgetting a field.
type Scope struct {
	Appliances []string `json:"appliances,omitempty"`
	Sites      []string `json:"sites,omitempty"`
}

// Allow is one allow-list entry.
type Allow struct {
	MAC     string    `json:"mac,omitempty"`
	Serial  string    `json:"serial,omitempty"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires,omitzero"`
}

// Probes are the probe settings a policy may set.
type Probes struct {
	PassiveOnly bool     `json:"passive_only,omitempty"`
	Disabled    []string `json:"disabled,omitempty"`
	// SweepInterval is the periodic re-sweep; 0 keeps the configured one.
	SweepInterval Duration `json:"sweep_interval,omitempty"`
}

// Document is a policy as signed. Field names are the wire names.
type Document struct {
	Type              string            `json:"type"`
	Version           uint64            `json:"version"`
	IssuedAt          time.Time         `json:"issued_at"`
	ExpiresAt         time.Time         `json:"expires_at"`
	Scope             Scope             `json:"scope"`
	FlaggedMakers     []string          `json:"flagged_makers"`
	FlaggedComponents []string          `json:"flagged_components,omitempty"`
	Actions           map[string]string `json:"actions,omitempty"` // maker or component -> alert | isolate
	MinIsolate        string            `json:"min_isolate,omitempty"`
	AllowList         []Allow           `json:"allow_list,omitempty"`
	HoldTime          Duration          `json:"hold_time,omitempty"`
	AutoRestore       bool              `json:"auto_restore,omitempty"`
	Probes            Probes            `json:"probes,omitzero"`
	// Signatures is extra classifier signature text (YAML or JSON, the
	// classify signature schema), merged over the built-in set.
	Signatures string `json:"signatures,omitempty"`
}

// Reasons a document is refused by Parse.
var (
	ErrOversized = errors.New("oversized")
	ErrMalformed = errors.New("malformed")
)

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Parse decodes a policy document strictly (bounded, no unknown fields,
// nothing after the object) and validates it. Errors name the field.
func Parse(b []byte) (*Document, error) {
	if len(b) > MaxDocument {
		return nil, fmt.Errorf("policy: %d bytes, more than %d: %w", len(b), MaxDocument, ErrOversized)
	}
	var d Document
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("policy: %s: %v: %w", te.Field, err, ErrMalformed)
		}
		return nil, fmt.Errorf("policy: %v: %w", err, ErrMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("policy: data after the JSON object: %w", ErrMalformed)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("policy: %v: %w", err, ErrMalformed)
	}
	return &d, nil
}

// Validate checks every field, naming the first bad one.
func (d *Document) Validate() error {
	switch {
	case d.Type != DocumentType:
		return fmt.Errorf("type: %q, want %q", d.Type, DocumentType)
	case d.Version == 0:
		return errors.New("version: must be at least 1")
	case d.IssuedAt.IsZero():
		return errors.New("issued_at: missing")
	case d.ExpiresAt.IsZero():
		return errors.New("expires_at: missing (policies must expire)")
	case !d.ExpiresAt.After(d.IssuedAt):
		return errors.New("expires_at: not after issued_at")
	}
	if len(d.Scope.Appliances) == 0 && len(d.Scope.Sites) == 0 {
		return errors.New(`scope: empty (name appliances or sites; appliances: ["*"] is the whole fleet)`)
	}
	for name, l := range map[string][]string{"scope.appliances": d.Scope.Appliances, "scope.sites": d.Scope.Sites,
		"flagged_makers": d.FlaggedMakers, "flagged_components": d.FlaggedComponents, "probes.disabled": d.Probes.Disabled} {
		if len(l) > maxList {
			return fmt.Errorf("%s: %d entries, more than %d", name, len(l), maxList)
		}
		for i, s := range l {
			if s == "*" && name == "scope.appliances" {
				continue
			}
			if !idRE.MatchString(s) {
				return fmt.Errorf("%s[%d]: %q: want lower-case letters, digits, '.', '_' or '-'", name, i, s)
			}
		}
	}
	if len(d.Actions) > maxList {
		return fmt.Errorf("actions: %d entries, more than %d", len(d.Actions), maxList)
	}
	for k, a := range d.Actions {
		if a != "alert" && a != "isolate" {
			return fmt.Errorf("actions[%s]: %q: want alert or isolate", k, a)
		}
		if !slices.Contains(d.FlaggedMakers, k) && !slices.Contains(d.FlaggedComponents, k) {
			return fmt.Errorf("actions[%s]: not in flagged_makers or flagged_components", k)
		}
	}
	if d.MinIsolate != "" {
		c, err := classify.ParseConfidence(d.MinIsolate)
		if err != nil || c < classify.Strong {
			return fmt.Errorf("min_isolate: %q: want strong or definitive (weak evidence never cuts)", d.MinIsolate)
		}
	}
	if len(d.AllowList) > maxAllow {
		return fmt.Errorf("allow_list: %d entries, more than %d", len(d.AllowList), maxAllow)
	}
	for i, a := range d.AllowList {
		if a.MAC == "" && a.Serial == "" {
			return fmt.Errorf("allow_list[%d]: needs mac or serial", i)
		}
		if a.MAC != "" {
			if hw, err := net.ParseMAC(a.MAC); err != nil || len(hw) != 6 {
				return fmt.Errorf("allow_list[%d].mac: %q is not a MAC address", i, a.MAC)
			}
		}
		if strings.TrimSpace(a.Reason) == "" {
			return fmt.Errorf("allow_list[%d].reason: missing (say why the device is allowed)", i)
		}
		if len(a.Reason) > 512 || len(a.Serial) > 128 {
			return fmt.Errorf("allow_list[%d]: reason or serial too long", i)
		}
	}
	if d.HoldTime < 0 {
		return fmt.Errorf("hold_time: negative (%v)", time.Duration(d.HoldTime))
	}
	if si := time.Duration(d.Probes.SweepInterval); si < 0 || (si > 0 && si < 10*time.Second) {
		return fmt.Errorf("probes.sweep_interval: %v: want 0 (keep the configured one) or at least 10s", si)
	}
	if d.Signatures != "" {
		if _, err := classify.LoadSignatures([]byte(d.Signatures)); err != nil {
			return fmt.Errorf("signatures: %w", err)
		}
	}
	return nil
}

// InScope reports whether the document is for this appliance.
func (d *Document) InScope(applianceID, site string) bool {
	if slices.Contains(d.Scope.Appliances, "*") || slices.Contains(d.Scope.Appliances, applianceID) {
		return true
	}
	return site != "" && slices.Contains(d.Scope.Sites, site)
}

// ClassifierSet returns base merged with the document's extra signatures
// (base itself when there are none). A nil base means classify.Default().
func (d *Document) ClassifierSet(base *classify.Set) (*classify.Set, error) {
	if base == nil {
		base = classify.Default()
	}
	if d.Signatures == "" {
		return base, nil
	}
	extra, err := classify.LoadSignatures([]byte(d.Signatures))
	if err != nil {
		return nil, fmt.Errorf("policy: signatures: %w", err)
	}
	return base.Merge(extra), nil
}
