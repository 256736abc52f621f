package digest

import (
	"strings"
	"testing"
)

// FuzzParse feeds hostile challenges to the parser (and, as Authorization
// values, to Verify). Whatever it accepts
// must be bounded and answerable, and the answer must be one Verify, the
// device's side, takes: so quoting and unquoting agree for every realm,
// nonce and opaque a device can send.
func FuzzParse(f *testing.F) {
	f.Add(rfc2617Challenge)
	f.Add(rfc7616Challenge)
	f.Add(`Digest realm="Login to 6G0ABCD1234567", qop="auth", nonce="abc", algorithm=MD5, stale=TRUE`)
	f.Add(`Digest realm="a\"b", nonce=x,,,=`)
	f.Add(`Digest realm="a\"b", nonce="n", qop=auth-int, stale=true, algorithm=SHA-256`)
	f.Add(`Digest qop="auth", realm="DS-7608NXI-I2/8P/S", nonce="a\\", stale="FALSE"`)
	f.Add(`Basic realm="x"`)
	f.Fuzz(func(t *testing.T, h string) {
		_ = Verify(h, "POST", "r", "u", "p", func(string) bool { return true })
		if n := len(Params(h)); n > MaxParams {
			t.Fatalf("%d params", n)
		}
		ch, ok := Parse(h)
		if !ok {
			return
		}
		if len(h) > MaxChallenge || ch.Nonce == "" {
			t.Fatalf("accepted %d bytes, nonce %q", len(h), ch.Nonce)
		}
		const user, password, uri = `ad"min`, `p\w`, "/onvif/device_service"
		a, err := ch.Authorization(user, password, "POST", uri, 7, "c,n")
		if err != nil {
			if ch.Supported() && (!ch.QopOffered || ch.QopAuth) {
				t.Fatalf("answerable challenge refused: %v", err)
			}
			return
		}
		p := Params(strings.TrimPrefix(a, "Digest "))
		if p["realm"] != ch.Realm || p["nonce"] != ch.Nonce || p["username"] != user || p["uri"] != uri || p["opaque"] != ch.Opaque {
			t.Fatalf("answer %q does not read back: %q", a, p)
		}
		if len(a) <= MaxAuthorization && !Verify(a, "POST", ch.Realm, user, password, func(n string) bool { return n == ch.Nonce }) {
			t.Fatalf("own answer refused: %q", a)
		}
	})
}
