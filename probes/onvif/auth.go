package onvif

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"log/slog"
	"strings"
	"time"
)

// Credential is one user/password pair to try. Its String, GoString and
// LogValue hide the password so a stray %v or slog attribute cannot leak it.
type Credential struct {
	User     string
	Password string
}

func (c Credential) String() string { return c.User + ":<redacted>" }
func (c Credential) GoString() string {
	return `onvif.Credential{User:"` + c.User + `", Password:<redacted>}`
}
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalText keeps the password out of JSON and text encodings, which do
// not call LogValue for values nested in slices.
func (c Credential) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// createdLayout is the wsu:Created format ONVIF devices accept (UTC, Z).
const createdLayout = "2006-01-02T15:04:05.000Z"

// passwordDigest is base64(sha1(nonce + created + password)) (WS-Security
// UsernameToken Profile 1.0, PasswordDigest).
func passwordDigest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// usernameToken builds the wsse:Security header; created must be the
// camera's time, or a camera with a wrong clock refuses the token.
func usernameToken(c Credential, nonce []byte, created time.Time) string {
	cr := created.UTC().Format(createdLayout)
	return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="` + nsWSSE + `" xmlns:wsu="` + nsWSU + `">` +
		`<wsse:UsernameToken><wsse:Username>` + esc(c.User) + `</wsse:Username>` +
		`<wsse:Password Type="` + pwDigest + `">` + passwordDigest(nonce, cr, c.Password) + `</wsse:Password>` +
		`<wsse:Nonce EncodingType="` + b64Enc + `">` + base64.StdEncoding.EncodeToString(nonce) + `</wsse:Nonce>` +
		`<wsu:Created>` + cr + `</wsu:Created></wsse:UsernameToken></wsse:Security>`
}

// challenge is an HTTP Digest WWW-Authenticate challenge (RFC 7616).
type challenge struct {
	realm, nonce, opaque, algorithm string
	qopAuth                         bool // qop offered includes "auth"
	qopOffered                      bool
	stale                           bool
}

// parseChallenge reads the first Digest challenge among the headers.
func parseChallenge(headers []string) (challenge, bool) {
	for _, h := range headers {
		if len(h) > 2048 {
			continue
		}
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		if !strings.EqualFold(scheme, "Digest") {
			continue
		}
		p := parseParams(rest)
		c := challenge{realm: p["realm"], nonce: p["nonce"], opaque: p["opaque"], algorithm: p["algorithm"], stale: strings.EqualFold(p["stale"], "true")}
		if q, ok := p["qop"]; ok {
			c.qopOffered = true
			for _, v := range strings.Split(q, ",") {
				if strings.TrimSpace(v) == "auth" {
					c.qopAuth = true
				}
			}
		}
		if c.nonce == "" {
			continue
		}
		return c, true
	}
	return challenge{}, false
}

// parseParams splits k=v, k="v, with comma" lists.
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

// digestResponse computes the RFC 7616 response (qop=auth) or the RFC 2069
// one when the server offered no qop.
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

// authorization builds the Authorization header answering ch.
func (ch challenge) authorization(c Credential, method, uri string, nc uint32, cnonce string) (string, error) {
	newH, alg, ok := digestHash(ch.algorithm)
	if !ok {
		return "", fmt.Errorf("unsupported digest algorithm %q", ch.algorithm)
	}
	if ch.qopOffered && !ch.qopAuth {
		return "", fmt.Errorf("digest challenge offers no qop=auth")
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

// verifyDigest checks an Authorization header against user/password for
// the responder. nonceOK says whether the server issued the nonce.
func verifyDigest(header, method, realm string, c Credential, nonceOK func(string) bool) bool {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Digest") || len(header) > 4096 {
		return false
	}
	p := parseParams(rest)
	newH, _, ok := digestHash(p["algorithm"])
	if !ok || p["username"] != c.User || p["realm"] != realm || !nonceOK(p["nonce"]) {
		return false
	}
	want := digestResponse(newH, c.User, realm, c.Password, method, p["uri"], p["nonce"], p["nc"], p["cnonce"], p["qop"] == "auth")
	return subtle.ConstantTimeCompare([]byte(want), []byte(p["response"])) == 1
}
