package nvr

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes/internal/xmltree"
)

// Lock-out durations when a device says it is locked but not until when,
// and the most we believe when it does say (a hostile device must not be
// able to silence the prober for ever with one answer).
const (
	DefaultLockout = 30 * time.Minute
	MaxLockout     = 24 * time.Hour
)

// lockHint is what a refusal says about the account's lock state.
type lockHint struct {
	locked   bool
	until    time.Duration // from now; DefaultLockout when the device did not say
	lastTry  bool          // not locked, but one more failure would lock it
	attempts int           // remaining attempts the device announced; -1 when it did not
}

var (
	minutesRE = regexp.MustCompile(`(?i)after\s+(\d{1,5})\s*min`)
	secondsRE = regexp.MustCompile(`(?i)remainLockSecond["\s:=]+(\d{1,7})`)
)

// readLockHint looks at a refusal (status 401, 403 or 429) for the forms
// recorders use to say an account is locked: Hikvision's userCheck XML
// (lockStatus, unlockTime in seconds, retryLoginTime = attempts left),
// Dahua's RPC2-style JSON (params.remainLockSecond, remainLoginTimes), the
// "User Locked! ... after N minutes" text of Dahua CGIs, and Retry-After.
// body is at most a few KiB of the answer.
func readLockHint(status int, h http.Header, body []byte) lockHint {
	hint := lockHint{attempts: -1}
	if status != http.StatusUnauthorized && status != http.StatusForbidden && status != http.StatusTooManyRequests {
		return hint
	}
	if len(body) > 16<<10 {
		body = body[:16<<10]
	}
	setUntil := func(d time.Duration) {
		if d > 0 {
			hint.until = min(d, MaxLockout)
		}
	}
	if ra := strings.TrimSpace(h.Get("Retry-After")); ra != "" {
		if n, err := strconv.Atoi(ra); err == nil && n > 0 {
			hint.locked = true
			setUntil(time.Duration(n) * time.Second)
		}
	}
	trim := bytes.TrimSpace(body)
	switch {
	case bytes.HasPrefix(trim, []byte("<")):
		if root, err := xmltree.Parse(trim, xmltree.Limits{MaxBytes: 16 << 10, MaxDepth: 8, MaxElements: 64}); err == nil && strings.EqualFold(root.Name().Local, "userCheck") {
			if strings.EqualFold(root.Child("lockStatus").Text(), "lock") {
				hint.locked = true
			}
			if n, err := strconv.Atoi(root.Child("unlockTime").Text()); err == nil && n > 0 && hint.locked {
				setUntil(time.Duration(n) * time.Second)
			}
			if n, err := strconv.Atoi(root.Child("retryLoginTime").Text()); err == nil && n >= 0 {
				hint.attempts = n
			}
		}
	case bytes.HasPrefix(trim, []byte("{")):
		var v struct {
			Params struct {
				RemainLockSecond *int `json:"remainLockSecond"`
				RemainLoginTimes *int `json:"remainLoginTimes"`
			} `json:"params"`
		}
		if json.Unmarshal(trim, &v) == nil {
			if p := v.Params.RemainLockSecond; p != nil && *p > 0 {
				hint.locked = true
				setUntil(time.Duration(*p) * time.Second)
			}
			if p := v.Params.RemainLoginTimes; p != nil && *p >= 0 {
				hint.attempts = *p
			}
		}
	default:
		if saysLocked(trim) {
			hint.locked = true
			if m := minutesRE.FindSubmatch(trim); m != nil {
				n, _ := strconv.Atoi(string(m[1]))
				setUntil(time.Duration(n) * time.Minute)
			} else if m := secondsRE.FindSubmatch(trim); m != nil {
				n, _ := strconv.Atoi(string(m[1]))
				setUntil(time.Duration(n) * time.Second)
			}
		}
	}
	if hint.locked && hint.until == 0 {
		hint.until = DefaultLockout
	}
	// Exactly one attempt left means the next failure locks. Zero while
	// unlocked is what firmware without a lock policy reports, so it
	// says nothing.
	if !hint.locked && hint.attempts == 1 {
		hint.lastTry = true
	}
	return hint
}

// saysLocked finds "locked" as a word of its own ("User Locked!", "account
// locked"), not inside "unlocked".
func saysLocked(b []byte) bool {
	low := bytes.ToLower(b)
	for i := 0; i < len(low); {
		j := bytes.Index(low[i:], []byte("locked"))
		if j < 0 {
			return false
		}
		at := i + j
		if at < 2 || string(low[at-2:at]) != "un" {
			return true
		}
		i = at + len("locked")
	}
	return false
}
