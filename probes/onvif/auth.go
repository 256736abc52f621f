package onvif

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"log/slog"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes/internal/digest"
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

// parseChallenge reads the first Digest challenge among the headers; its
// algorithm is checked only when it is answered, so a device offering one
// we cannot compute is told apart from one offering none.
func parseChallenge(headers []string) (digest.Challenge, bool) {
	for _, h := range headers {
		if ch, ok := digest.Parse(h); ok {
			return ch, true
		}
	}
	return digest.Challenge{}, false
}
