package nvr

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// challenge is what a 401's WWW-Authenticate headers ask for: Digest when
// offered (it never sends the password), else Basic.
type challenge struct {
	digest    bool
	basic     bool
	realm     string
	nonce     string
	opaque    string
	algorithm string // as offered; "" means MD5
	qopAuth   bool   // qop offered includes "auth"
	qopOther  bool   // qop offered, but not "auth" (auth-int only)
	stale     bool
}

// maxChallenge bounds one WWW-Authenticate header we look at.
const maxChallenge = 2048

// parseChallenges reads the WWW-Authenticate headers of a 401. A Digest
// challenge with an algorithm we can compute wins over others; Basic is
// remembered only as a fallback the device itself offered.
func parseChallenges(headers []string) (challenge, bool) {
	var out challenge
	found := false
	for i, h := range headers {
		if i == 8 || len(h) > maxChallenge {
			break
		}
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		switch {
		case strings.EqualFold(scheme, "Basic"):
			out.basic = true
			if out.realm == "" {
				out.realm = parseParams(rest)["realm"]
			}
			found = true
		case strings.EqualFold(scheme, "Digest") && !out.digest:
			p := parseParams(rest)
			if p["nonce"] == "" {
				continue
			}
			if _, _, ok := digestHash(p["algorithm"]); !ok {
				continue // e.g. SHA-512-256: try another header
			}
			out.digest, out.realm, out.nonce, out.opaque, out.algorithm = true, p["realm"], p["nonce"], p["opaque"], p["algorithm"]
			out.stale = strings.EqualFold(p["stale"], "true")
			if q, ok := p["qop"]; ok {
				for _, v := range strings.Split(q, ",") {
					if strings.TrimSpace(v) == "auth" {
						out.qopAuth = true
					}
				}
				out.qopOther = !out.qopAuth
			}
			found = true
		}
	}
	return out, found
}

// parseParams splits k=v, k="quoted, with \"escapes\"" lists, at most 32
// pairs.
func parseParams(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 && len(out) < 32 {
		s = strings.TrimLeft(s, " ,\t")
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		rest = strings.TrimLeft(rest, " \t")
		var v string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest); i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
					b.WriteByte(rest[i])
					continue
				}
				if rest[i] == '"' {
					break
				}
				b.WriteByte(rest[i])
			}
			v = b.String()
			if i < len(rest) {
				i++
			}
			s = rest[i:]
		} else {
			v, s, _ = strings.Cut(rest, ",")
			v = strings.TrimSpace(v)
		}
		out[k] = v
	}
	return out
}

func digestHash(alg string) (func() hash.Hash, string, bool) {
	switch strings.ToUpper(alg) {
	case "", "MD5":
		return md5.New, "MD5", true
	case "SHA-256":
		return sha256.New, "SHA-256", true
	}
	return nil, "", false
}

func hexHash(newH func() hash.Hash, s string) string {
	h := newH()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// digestResponse is RFC 7616's response with qop=auth, or RFC 2069's when
// the server offered no qop.
func digestResponse(newH func() hash.Hash, user, realm, password, method, uri, nonce, nc, cnonce string, qop bool) string {
	ha1 := hexHash(newH, user+":"+realm+":"+password)
	ha2 := hexHash(newH, method+":"+uri)
	if qop {
		return hexHash(newH, ha1+":"+nonce+":"+nc+":"+cnonce+":auth:"+ha2)
	}
	return hexHash(newH, ha1+":"+nonce+":"+ha2)
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
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
	newH, alg, _ := digestHash(ch.algorithm)
	if ch.qopOther {
		return "", fmt.Errorf("digest challenge offers only qop other than auth: %w", errNoScheme)
	}
	ncs := fmt.Sprintf("%08x", nc)
	resp := digestResponse(newH, c.User, ch.realm, c.Password, method, uri, ch.nonce, ncs, cnonce, ch.qopAuth)
	parts := []string{
		"username=" + quote(c.User), "realm=" + quote(ch.realm), "nonce=" + quote(ch.nonce),
		"uri=" + quote(uri), "algorithm=" + alg, "response=" + quote(resp),
	}
	if ch.qopAuth {
		parts = append(parts, "qop=auth", "nc="+ncs, "cnonce="+quote(cnonce))
	}
	if ch.opaque != "" {
		parts = append(parts, "opaque="+quote(ch.opaque))
	}
	return "Digest " + strings.Join(parts, ", "), nil
}

// scheme names how ch is answered, for Result.Auth.
func (ch challenge) scheme() string {
	if ch.digest {
		return AuthDigest
	}
	return AuthBasic
}
