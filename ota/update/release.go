package update

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
)

// ReleaseType is the type field of a release document.
const ReleaseType = "camwarden.release/1"

// Bounds on what a repository can make the appliance hold or fetch.
const (
	// MaxMetadata bounds a release envelope on the wire.
	MaxMetadata = 64 << 10
	// MaxBinary bounds a firmware binary (a static Go binary is ~20 MiB).
	MaxBinary = 256 << 20
	// MaxTargets bounds the targets of one release.
	MaxTargets = 16
	// MaxValidity bounds expires - issued_at: a release that stays valid for
	// years defeats freeze protection.
	MaxValidity = 400 * 24 * time.Hour
	// MaxMinTrial bounds a release's min_trial_seconds: a trial that can
	// never end would keep the previous slot as the rollback target, and
	// block every later update, for as long as the publisher said.
	MaxMinTrial = 24 * time.Hour
)

// Architectures a release can target.
var Arches = []string{"arm64", "armv7", "armv6", "amd64"}

// Release is the signed release document (camwarden.release/1).
type Release struct {
	Type    string `json:"type"`
	Version string `json:"version"`
	// SecurityEpoch is the anti-rollback floor: once a release of epoch E
	// is committed, nothing with a lower epoch is installed again. It is
	// separate from Version so that a downgrade within an epoch (a bad
	// release rolled back fleet-wide) stays possible.
	SecurityEpoch uint64    `json:"security_epoch"`
	IssuedAt      time.Time `json:"issued_at"`
	Expires       time.Time `json:"expires"`
	Targets       []Target  `json:"targets"`
	// MinTrialSeconds is how long the release must stay healthy, without a
	// break, before it commits (0: it commits as soon as the gate passes).
	// A health gate sees a process that has just started; problems that
	// take minutes to show (a leak, a watchdog stall, a peer that drops the
	// new firmware after a while) need the trial to last. It is signed with
	// the release because the publisher knows what its release risks.
	MinTrialSeconds int64 `json:"min_trial_seconds,omitempty"`
}

// MinTrial is the release's minimum healthy period.
func (r *Release) MinTrial() time.Duration { return time.Duration(r.MinTrialSeconds) * time.Second }

// Target is one architecture's binary.
type Target struct {
	Arch string `json:"arch"`
	// URL is relative to the repository (targets/<sha256>); absolute URLs
	// are refused so a release cannot send appliances elsewhere.
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

var versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)

// ValidVersion reports whether v can name a release (it becomes a file name
// in the repository, so it is kept to a safe alphabet).
func ValidVersion(v string) bool { return versionRE.MatchString(v) && !strings.Contains(v, "..") }

func validSHA(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Validate checks a release's fields, naming the field.
func (r *Release) Validate() error {
	switch {
	case r.Type != ReleaseType:
		return fmt.Errorf("type: %q, want %q", r.Type, ReleaseType)
	case !ValidVersion(r.Version):
		return fmt.Errorf("version: %q is not a version", r.Version)
	case r.IssuedAt.IsZero():
		return errors.New("issued_at: missing")
	case !r.Expires.After(r.IssuedAt):
		return errors.New("expires: not after issued_at")
	case r.Expires.Sub(r.IssuedAt) > MaxValidity:
		return fmt.Errorf("expires: more than %s after issued_at", MaxValidity)
	case len(r.Targets) == 0:
		return errors.New("targets: none")
	case len(r.Targets) > MaxTargets:
		return fmt.Errorf("targets: %d, more than %d", len(r.Targets), MaxTargets)
	case r.MinTrialSeconds < 0 || r.MinTrialSeconds > int64(MaxMinTrial/time.Second):
		return fmt.Errorf("min_trial_seconds: %d, want 0..%d", r.MinTrialSeconds, int64(MaxMinTrial/time.Second))
	}
	seen := map[string]bool{}
	for i, t := range r.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		switch {
		case !slices.Contains(Arches, t.Arch):
			return fmt.Errorf("%s.arch: %q, want one of %s", f, t.Arch, strings.Join(Arches, ", "))
		case seen[t.Arch]:
			return fmt.Errorf("%s.arch: %s listed twice", f, t.Arch)
		case t.Size <= 0 || t.Size > MaxBinary:
			return fmt.Errorf("%s.size: %d, want 1..%d", f, t.Size, MaxBinary)
		case !validSHA(t.SHA256):
			return fmt.Errorf("%s.sha256: not 64 lower-case hex digits", f)
		}
		if err := checkRelURL(t.URL); err != nil {
			return fmt.Errorf("%s.url: %w", f, err)
		}
		seen[t.Arch] = true
	}
	return nil
}

func checkRelURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case s == "" || u.IsAbs() || u.Host != "" || strings.HasPrefix(s, "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q: want a path relative to the repository", s)
	case path.Clean(u.Path) != u.Path || strings.HasPrefix(u.Path, "../") || u.Path == "..":
		return fmt.Errorf("%q: not a clean path inside the repository", s)
	}
	return nil
}

// Target returns the target for arch, or nil.
func (r *Release) Target(arch string) *Target {
	for i := range r.Targets {
		if r.Targets[i].Arch == arch {
			return &r.Targets[i]
		}
	}
	return nil
}

// ParseRelease decodes a release document strictly and validates it.
func ParseRelease(b []byte) (*Release, error) {
	var r Release
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("update: release: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("update: release: data after the JSON object")
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("update: release: %w", err)
	}
	return &r, nil
}

// Marshal encodes the release for signing.
func (r *Release) Marshal() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return b
}

// HostArch names the architecture this binary was built for, in the form
// releases use: armv6/armv7 come from the GOARM the binary was built with.
func HostArch() string {
	if runtime.GOARCH != "arm" {
		return runtime.GOARCH
	}
	goarm := "7"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOARM" && s.Value != "" {
				goarm = s.Value[:1]
			}
		}
	}
	return "armv" + goarm
}

// Reason codes on ota/status. A refusal carries one so central can count
// them without parsing prose.
const (
	CodeBadJob       = "bad_job"
	CodeBusy         = "busy"
	CodeFetch        = "fetch"         // network/5xx after the bounded retries
	CodeHTTP         = "http"          // a 4xx answer: permanent
	CodeMalformed    = "malformed"     // metadata does not parse
	CodeSignature    = "signature"     // not signed by a current firmware key
	CodeExpired      = "expired"       // freeze: metadata past its expiry
	CodeFuture       = "future"        // issued after trusted time (clock synced)
	CodeVersion      = "version"       // metadata names another version than the job
	CodeEpoch        = "epoch"         // security epoch below the floor
	CodeRollback     = "rollback"      // metadata older than the running release's
	CodeArch         = "arch"          // no target for this architecture
	CodeSize         = "size"          // more (or fewer) bytes than declared
	CodeHash         = "hash"          // sha256 mismatch
	CodeFailedBefore = "failed_before" // image failed its trial before
	CodeInstall      = "install"       // local I/O while writing the slot or state
	CodeGate         = "gate"          // health gate failed in trial
	CodeBootLoop     = "boot_loop"     // too many starts without commit
	CodeCrash        = "crash"         // trial binary could not be started
)

// Error is a refusal or failure with a reason code. Permanent errors are
// not retried for the same job.
type Error struct {
	Code      string
	Permanent bool
	Err       error
}

func (e *Error) Error() string { return e.Code + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func fail(code string, permanent bool, format string, a ...any) *Error {
	return &Error{Code: code, Permanent: permanent, Err: fmt.Errorf(format, a...)}
}

// CodeOf returns err's reason code ("" when it has none).
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Trust is what release metadata is verified against: the root-signed key
// set in force and trusted time. *policy.Trust implements it.
type Trust interface {
	KeySet() *sign.KeySet
	Now() time.Time
}

// clockSynced is implemented by *policy.Trust: only a synchronised clock can
// judge "issued in the future".
type clockSynced interface{ ClockSynced() bool }

// observer is implemented by *policy.Trust: an accepted release's signed
// time moves trusted time forward.
type observer interface{ Observe(time.Time) error }

// FutureSkew is how far in the future a release may be issued.
const FutureSkew = 5 * time.Minute

// VerifyRelease checks a release envelope against trust: a current,
// unrevoked firmware key signed it, it parses, it has not expired and was
// not issued in the future (when the clock is synchronised).
func VerifyRelease(raw []byte, trust Trust) (*Release, error) {
	if len(raw) > MaxMetadata {
		return nil, fail(CodeSize, true, "release metadata: %d bytes, more than %d", len(raw), MaxMetadata)
	}
	env, err := sign.ParseEnvelope(raw)
	if err != nil {
		return nil, &Error{Code: CodeMalformed, Permanent: true, Err: err}
	}
	now := trust.Now()
	payload, err := sign.Verify(env, trust.KeySet(), sign.RoleFirmware, now)
	if err != nil {
		return nil, &Error{Code: CodeSignature, Permanent: true, Err: err}
	}
	r, err := ParseRelease(payload)
	if err != nil {
		return nil, &Error{Code: CodeMalformed, Permanent: true, Err: err}
	}
	if !now.Before(r.Expires) {
		return nil, fail(CodeExpired, true, "release %s expired at %s (trusted time %s)", r.Version,
			r.Expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if cs, ok := trust.(clockSynced); ok && cs.ClockSynced() && r.IssuedAt.After(now.Add(FutureSkew)) {
		return nil, fail(CodeFuture, true, "release %s issued at %s, in the future", r.Version, r.IssuedAt.UTC().Format(time.RFC3339))
	}
	return r, nil
}

// ReleasePath is where a version's signed metadata lives in a repository.
func ReleasePath(version string) string { return "releases/" + version + ".json" }
