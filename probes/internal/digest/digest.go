package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Bounds on what is read from one header.
const (
	MaxChallenge     = 2048 // a WWW-Authenticate value longer than this is passed over
	MaxAuthorization = 4096 // an Authorization value longer than this is refused
	MaxParams        = 32
)

// Reasons Authorization cannot answer a challenge. Callers that treat them
// alike can test for either with errors.Is.
var (
	ErrAlgorithm = errors.New("unsupported digest algorithm")
	ErrQop       = errors.New("digest challenge offers no qop=auth")
)

// Challenge is one Digest WWW-Authenticate challenge as a device sent it.
type Challenge struct {
	Realm, Nonce, Opaque string
	Algorithm            string // as offered; "" means MD5
	QopOffered           bool   // the challenge named any qop
	QopAuth              bool   // ... and "auth" among them
	Stale                bool   // the nonce expired, the credential did not fail
}

// Parse reads h when it is a Digest challenge with a nonce; anything else
// (another scheme, no nonce, longer than MaxChallenge) is not one.
func Parse(h string) (Challenge, bool) {
	if len(h) > MaxChallenge {
		return Challenge{}, false
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return Challenge{}, false
	}
	p := Params(rest)
	c := Challenge{Realm: p["realm"], Nonce: p["nonce"], Opaque: p["opaque"], Algorithm: p["algorithm"],
		Stale: strings.EqualFold(p["stale"], "true")}
	if c.Nonce == "" {
		return Challenge{}, false
	}
	if q, ok := p["qop"]; ok {
		c.QopOffered = true
		for v := range strings.SplitSeq(q, ",") {
			if strings.TrimSpace(v) == "auth" {
				c.QopAuth = true
			}
		}
	}
	return c, true
}

// Supported reports whether the challenge's algorithm is one Authorization
// can compute, so a caller can prefer another challenge of the same 401.
func (c Challenge) Supported() bool {
	_, _, ok := algorithm(c.Algorithm)
	return ok
}

// Authorization is the Authorization header answering c for user and
// password on request method and uri; nc counts the requests made with
// this nonce and cnonce is the client's fresh random value. The error never
// carries the credential.
func (c Challenge) Authorization(user, password, method, uri string, nc uint32, cnonce string) (string, error) {
	newH, alg, ok := algorithm(c.Algorithm)
	if !ok {
		return "", fmt.Errorf("%w %q", ErrAlgorithm, c.Algorithm)
	}
	if c.QopOffered && !c.QopAuth {
		return "", ErrQop
	}
	ncs := fmt.Sprintf("%08x", nc)
	resp := response(newH, user, c.Realm, password, method, uri, c.Nonce, ncs, cnonce, c.QopAuth)
	parts := []string{
		"username=" + Quote(user), "realm=" + Quote(c.Realm), "nonce=" + Quote(c.Nonce),
		"uri=" + Quote(uri), "algorithm=" + alg, "response=" + Quote(resp),
	}
	if c.QopAuth {
		parts = append(parts, "qop=auth", "nc="+ncs, "cnonce="+Quote(cnonce))
	}
	if c.Opaque != "" {
		parts = append(parts, "opaque="+Quote(c.Opaque))
	}
	return "Digest " + strings.Join(parts, ", "), nil
}

// Verify is the device's side: it reports whether the Authorization header
// h answers for user and password in realm on request method. nonceOK says
// whether the server issued the nonce and still honours it; the response
// is compared in constant time.
func Verify(h, method, realm, user, password string, nonceOK func(string) bool) bool {
	if len(h) > MaxAuthorization {
		return false
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return false
	}
	p := Params(rest)
	newH, _, ok := algorithm(p["algorithm"])
	if !ok || p["username"] != user || p["realm"] != realm || !nonceOK(p["nonce"]) {
		return false
	}
	want := response(newH, user, realm, password, method, p["uri"], p["nonce"], p["nc"], p["cnonce"], p["qop"] == "auth")
	return subtle.ConstantTimeCompare([]byte(want), []byte(p["response"])) == 1
}

// Params splits an auth-param list (k=token, k="quoted, with \"escapes\"")
// into lower-cased keys and unescaped values, at most MaxParams of them; a
// repeated key keeps its last value.
func Params(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 && len(out) < MaxParams {
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

// Quote makes s a quoted-string that Params reads back as s.
func Quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// algorithm maps an offered algorithm to its hash and the name to send
// back; "" is MD5, as RFC 7616 says for a challenge that names none.
func algorithm(alg string) (func() hash.Hash, string, bool) {
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

// response is RFC 7616's response with qop=auth, or RFC 2069's when the
// server offered no qop.
func response(newH func() hash.Hash, user, realm, password, method, uri, nonce, nc, cnonce string, qop bool) string {
	ha1 := hexHash(newH, user+":"+realm+":"+password)
	ha2 := hexHash(newH, method+":"+uri)
	if qop {
		return hexHash(newH, ha1+":"+nonce+":"+nc+":"+cnonce+":auth:"+ha2)
	}
	return hexHash(newH, ha1+":"+nonce+":"+ha2)
}
