package enforce

import (
	"fmt"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes/classify"
)

// Action is what the policy wants done about a flagged device.
type Action string

const (
	ActionNone    Action = ""        // not flagged
	ActionAlert   Action = "alert"   // light the alert LED and report
	ActionIsolate Action = "isolate" // also cut the uplink
	ActionAllowed Action = "allowed" // flagged, but on the allow-list
)

// ParseAction accepts the policy's action words.
func ParseAction(s string) (Action, error) {
	switch a := Action(strings.ToLower(strings.TrimSpace(s))); a {
	case ActionAlert, ActionIsolate:
		return a, nil
	}
	return "", fmt.Errorf("enforce: unknown action %q (want alert or isolate)", s)
}

// Allow exempts one device from enforcement, by MAC or by serial number.
type Allow struct {
	MAC     string    `json:"mac,omitempty"`
	Serial  string    `json:"serial,omitempty"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires,omitzero"` // zero: never
}

// Policy is the enforcement part of a verified policy document.
type Policy struct {
	// FlaggedMakers are canonical maker ids (classify.Verdict.Maker). Brands
	// are never matched: a relabelled camera is flagged through its maker.
	FlaggedMakers []string `json:"flagged_makers"`
	// FlaggedComponents are restricted parts (classify.Verdict.Components),
	// e.g. "hisilicon", flagged whoever assembled the device.
	FlaggedComponents []string `json:"flagged_components"`
	// Actions maps a flagged maker or component to its action; missing
	// entries mean alert.
	Actions map[string]Action `json:"actions"`
	// MinIsolate is the least confidence that may cut the uplink. Values
	// below Strong are raised to Strong: weak evidence never cuts.
	MinIsolate classify.Confidence `json:"min_isolate"`
	AllowList  []Allow             `json:"allow_list"`
	// HoldTime is how long every isolating device must have been gone
	// before a cut may be restored.
	HoldTime time.Duration `json:"hold_time"`
	// AutoRestore restores after HoldTime without an acknowledgement.
	AutoRestore bool   `json:"auto_restore"`
	Version     uint64 `json:"version"`
}

// Defaults for DefaultPolicy.
var (
	DefaultFlaggedMakers     = []string{"hikvision", "dahua", "huawei", "zte", "hytera"}
	DefaultFlaggedComponents = []string{"hisilicon"}
)

// DefaultHoldTime is the hold time of DefaultPolicy: long enough that a
// camera being power-cycled or re-patched is not mistaken for removed.
const DefaultHoldTime = 10 * time.Minute

// DefaultPolicy is what the appliance enforces before any signed policy
// arrives: flag the restricted makers and HiSilicon, alert only, never cut.
func DefaultPolicy() Policy {
	return Policy{
		FlaggedMakers:     append([]string(nil), DefaultFlaggedMakers...),
		FlaggedComponents: append([]string(nil), DefaultFlaggedComponents...),
		Actions:           map[string]Action{},
		MinIsolate:        classify.Strong,
		HoldTime:          DefaultHoldTime,
	}
}

// Validate checks the fields a converter from a policy document could get
// wrong, naming the field.
func (p Policy) Validate() error {
	for k, a := range p.Actions {
		if a != ActionAlert && a != ActionIsolate {
			return fmt.Errorf("enforce: policy actions[%s]: unknown action %q (want alert or isolate)", k, a)
		}
	}
	if p.MinIsolate > classify.Definitive {
		return fmt.Errorf("enforce: policy min_isolate: %v out of range", p.MinIsolate)
	}
	if p.HoldTime < 0 {
		return fmt.Errorf("enforce: policy hold_time: negative (%v)", p.HoldTime)
	}
	for i, a := range p.AllowList {
		if a.MAC == "" && a.Serial == "" {
			return fmt.Errorf("enforce: policy allow_list[%d]: needs mac or serial", i)
		}
		if a.MAC != "" && normMAC(a.MAC) == "" {
			return fmt.Errorf("enforce: policy allow_list[%d].mac: %q is not a MAC address", i, a.MAC)
		}
	}
	return nil
}

// minIsolate is the effective isolate threshold: the design says OUI alone
// never cuts, so no policy can lower it below Strong.
func (p Policy) minIsolate() classify.Confidence {
	return max(p.MinIsolate, classify.Strong)
}

// Rules is a policy as people write it: the local policy section of the
// configuration and a signed policy document both say this much. FromRules
// is the one place it becomes an enforceable Policy, so both are normalised
// and checked alike.
type Rules struct {
	FlaggedMakers     []string
	FlaggedComponents []string
	Actions           map[string]string // maker or component -> alert | isolate
	MinIsolate        string            // "" = strong
	Allow             []Allow
	HoldTime          time.Duration // 0: restore as soon as the devices are gone
	AutoRestore       bool
	Version           uint64
}

// FromRules converts r, lower-casing maker ids and allow-list MACs to their
// canonical form. Errors name the field.
func FromRules(r Rules) (Policy, error) {
	p := Policy{
		FlaggedMakers:     lowerAll(r.FlaggedMakers),
		FlaggedComponents: lowerAll(r.FlaggedComponents),
		Actions:           make(map[string]Action, len(r.Actions)),
		MinIsolate:        classify.Strong,
		HoldTime:          r.HoldTime,
		AutoRestore:       r.AutoRestore,
		Version:           r.Version,
	}
	for k, a := range r.Actions {
		act, err := ParseAction(a)
		if err != nil {
			return Policy{}, fmt.Errorf("actions.%s: %w", k, err)
		}
		p.Actions[strings.ToLower(strings.TrimSpace(k))] = act
	}
	if r.MinIsolate != "" {
		c, err := classify.ParseConfidence(r.MinIsolate)
		if err != nil {
			return Policy{}, fmt.Errorf("min_isolate: %w", err)
		}
		p.MinIsolate = c
	}
	for i, a := range r.Allow {
		if a.MAC != "" {
			m := normMAC(a.MAC)
			if m == "" {
				return Policy{}, fmt.Errorf("allow[%d].mac: %q is not a MAC address", i, a.MAC)
			}
			a.MAC = m
		}
		p.AllowList = append(p.AllowList, a)
	}
	return p, p.Validate()
}

func lowerAll(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		out = append(out, strings.ToLower(strings.TrimSpace(v)))
	}
	return out
}
