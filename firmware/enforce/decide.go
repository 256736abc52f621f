package enforce

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes/classify"
)

// Device is what enforcement needs to know about one device.
type Device struct {
	MAC     string
	Serial  string // from the verdict or inventory; used for the allow-list
	Verdict classify.Verdict
}

// Decision is Decide's answer.
type Decision struct {
	Flagged bool   `json:"flagged"`
	Action  Action `json:"action,omitempty"` // "" when not flagged
	Reason  string `json:"reason,omitempty"`
	// Target is the flagged maker or component that matched.
	Target string `json:"target,omitempty"`
	// Review is set for a device whose maker is undetermined
	// (classify.Verdict.Review): never flagged or acted on, shown on the
	// alert LED until an allow-list entry or a signature settles it.
	Review bool `json:"review,omitempty"`
}

// Decide applies p to d at now. A verdict under review is never flagged or
// acted on (Decision.Review). Otherwise it flags by maker or by restricted component,
// never by brand; an allow-list entry (by MAC or serial, not expired) turns a
// flag into "allowed"; an isolate action with less confidence than the
// policy's minimum (never below Strong) is downgraded to alert. A device with
// no confidence at all is not flagged.
func Decide(p Policy, d Device, now time.Time) Decision {
	v := d.Verdict
	if v.Undetermined() {
		// Undetermined never acts, whatever the candidates: a wrong cut
		// costs a site its cameras. An allow-list entry is the installer
		// saying they checked the device.
		if a, ok := allowed(p.AllowList, d, now); ok {
			return Decision{Reason: fmt.Sprintf("undetermined maker; allow-listed by %s: %s", a.by, a.Reason)}
		}
		return Decision{Review: true, Reason: "undetermined maker (" + strings.Join(v.Candidates, " or ") + "): review"}
	}
	if v.Confidence == classify.None {
		return Decision{}
	}
	target, why := "", ""
	if m := strings.ToLower(strings.TrimSpace(v.Maker)); m != "" && containsFold(p.FlaggedMakers, m) {
		target, why = m, "maker "+m
		if v.Brand != "" && !strings.EqualFold(v.Brand, m) {
			why += " (sold as " + v.Brand + ")"
		}
	} else {
		for _, c := range v.Components {
			c = strings.ToLower(strings.TrimSpace(c))
			if c != "" && containsFold(p.FlaggedComponents, c) {
				target, why = c, "component "+c
				break
			}
		}
	}
	if target == "" {
		return Decision{}
	}
	why = fmt.Sprintf("%s, %s confidence", why, v.Confidence)

	if a, ok := allowed(p.AllowList, d, now); ok {
		return Decision{Flagged: true, Action: ActionAllowed, Target: target,
			Reason: fmt.Sprintf("%s; allow-listed by %s: %s", why, a.by, a.Reason)}
	}
	act := p.Actions[target]
	if act == "" {
		act = actionFold(p.Actions, target)
	}
	if act != ActionIsolate {
		return Decision{Flagged: true, Action: ActionAlert, Target: target, Reason: why + "; policy: alert"}
	}
	if minC := p.minIsolate(); v.Confidence < minC {
		return Decision{Flagged: true, Action: ActionAlert, Target: target,
			Reason: fmt.Sprintf("%s; policy: isolate, but isolating needs %s confidence, so alert only", why, minC)}
	}
	return Decision{Flagged: true, Action: ActionIsolate, Target: target, Reason: why + "; policy: isolate"}
}

type allowMatch struct {
	Allow
	by string
}

func allowed(list []Allow, d Device, now time.Time) (allowMatch, bool) {
	mac := normMAC(d.MAC)
	serials := []string{strings.TrimSpace(d.Serial), strings.TrimSpace(d.Verdict.Serial)}
	for _, a := range list {
		// An entry is valid up to, not including, its expiry instant.
		if !a.Expires.IsZero() && !now.Before(a.Expires) {
			continue
		}
		if a.MAC != "" && mac != "" && normMAC(a.MAC) == mac {
			return allowMatch{a, "mac " + mac}, true
		}
		if s := strings.TrimSpace(a.Serial); s != "" {
			for _, ds := range serials {
				// Serials are compared case-insensitively: vendors print
				// them in either case on labels and in protocol answers.
				if ds != "" && strings.EqualFold(ds, s) {
					return allowMatch{a, "serial " + s}, true
				}
			}
		}
	}
	return allowMatch{}, false
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), s) })
}

func actionFold(m map[string]Action, k string) Action {
	for mk, a := range m {
		if strings.EqualFold(mk, k) {
			return a
		}
	}
	return ""
}

// normMAC returns the canonical lower-case colon form, or "" if s is not a MAC.
func normMAC(s string) string {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return hw.String()
}
