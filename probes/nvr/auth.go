package nvr

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/camwarden/camwarden/probes/internal/digest"
)

// challenge is what a 401's WWW-Authenticate headers ask for: Digest when
// offered (it never sends the password), else Basic.
type challenge struct {
	digest.Challenge // when digest
	digest           bool
	basic            bool
}

// parseChallenges reads the WWW-Authenticate headers of a 401, at most 8
// of them and none past an oversized one. A Digest challenge with an
// algorithm we can compute wins over others; Basic is remembered only as a
// fallback the device itself offered.
func parseChallenges(headers []string) (challenge, bool) {
	var out challenge
	found := false
	for i, h := range headers {
		if i == 8 || len(h) > digest.MaxChallenge {
			break
		}
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		switch {
		case strings.EqualFold(scheme, "Basic"):
			out.basic = true
			if out.Realm == "" {
				out.Realm = digest.Params(rest)["realm"]
			}
			found = true
		case !out.digest:
			// An algorithm we cannot compute (SHA-512-256) is passed over
			// for another header of the same 401.
			if ch, ok := digest.Parse(h); ok && ch.Supported() {
				out.Challenge, out.digest, found = ch, true, true
			}
		}
	}
	return out, found
}

var errNoScheme = errors.New("no authentication scheme we can answer")

// authorization answers ch for c. The error never carries the credential.
func (ch challenge) authorization(c Credential, method, uri string, nc uint32, cnonce string) (string, error) {
	if !ch.digest {
		if !ch.basic {
			return "", errNoScheme
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.User+":"+c.Password)), nil
	}
	a, err := ch.Authorization(c.User, c.Password, method, uri, nc, cnonce)
	if errors.Is(err, digest.ErrQop) {
		return "", fmt.Errorf("digest challenge offers only qop other than auth: %w", errNoScheme)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", err, errNoScheme)
	}
	return a, nil
}

// scheme names how ch is answered, for Result.Auth.
func (ch challenge) scheme() string {
	if ch.digest {
		return AuthDigest
	}
	return AuthBasic
}
