package classify

import (
	"fmt"
	"strings"
)

// Confidence is how sure a verdict is, ordered: None < Weak < Strong < Definitive.
type Confidence uint8

const (
	None       Confidence = iota
	Weak                  // OUI, hostname pattern
	Strong                // vendor banner, TLS subject, ONVIF manufacturer
	Definitive            // vendor-proprietary protocol answered (SADP, DHIP)
)

func (c Confidence) String() string {
	switch c {
	case None:
		return "none"
	case Weak:
		return "weak"
	case Strong:
		return "strong"
	case Definitive:
		return "definitive"
	}
	return fmt.Sprintf("confidence(%d)", uint8(c))
}

// ParseConfidence accepts the String forms, case-insensitively.
func ParseConfidence(s string) (Confidence, error) {
	for c := None; c <= Definitive; c++ {
		if strings.EqualFold(s, c.String()) {
			return c, nil
		}
	}
	return None, fmt.Errorf("unknown confidence %q (want none, weak, strong or definitive)", s)
}

func (c Confidence) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func (c *Confidence) UnmarshalText(b []byte) error {
	v, err := ParseConfidence(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Evidence is one reason behind a verdict.
type Evidence struct {
	Probe    string     `json:"probe"`           // probe whose facts matched: "oui", "sadp", "http", ...
	Detail   string     `json:"detail"`          // human-readable: what was seen and what it means
	Maker    string     `json:"maker,omitempty"` // maker this evidence points at
	Brand    string     `json:"brand,omitempty"`
	Strength Confidence `json:"strength"`
	Rule     string     `json:"rule,omitempty"` // signature id that produced it
}

// Verdict is classify's answer for one device.
type Verdict struct {
	Maker      string     `json:"maker"` // canonical maker id; "" when unknown
	Brand      string     `json:"brand,omitempty"`
	Model      string     `json:"model,omitempty"`
	Serial     string     `json:"serial,omitempty"`
	Firmware   string     `json:"firmware,omitempty"`
	Confidence Confidence `json:"confidence"`
	Evidence   []Evidence `json:"evidence"`
	// Conflicts explains evidence that points elsewhere (OUI of another
	// maker: OEM, Wi-Fi module or spoofed MAC).
	Conflicts []string `json:"conflicts,omitempty"`
	// Components are restricted parts seen inside (e.g. "hisilicon").
	Components []string `json:"components,omitempty"`
	// Notes are plain-words remarks for installers: corroboration by
	// independent probes, a locally administered MAC, OUI-only verdicts.
	Notes []string `json:"notes,omitempty"`
	// Review, when not empty, says why the maker is undetermined: strong
	// evidence for two makers, evidence a rule marks ambiguous, or a
	// device that speaks for another. Maker is then "" and Candidates
	// lists the makers the evidence points at; both sides' evidence is in
	// Evidence. A verdict under review is never acted on; an installer
	// settles it (allow-list entry or a signed policy signature).
	Review     []string `json:"review,omitempty"`
	Candidates []string `json:"candidates,omitempty"`
}

// Undetermined reports whether the verdict needs a person to settle it.
func (v Verdict) Undetermined() bool { return len(v.Review) > 0 }
