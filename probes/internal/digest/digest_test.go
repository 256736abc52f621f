package digest

import (
	"crypto/md5"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The worked examples of RFC 2617 section 3.5 and RFC 7616 section 3.9.1,
// each header as the RFC prints it, folded onto one line.
const (
	rfc2617Challenge = `Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	rfc2617Answer    = `Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`

	rfc7616Challenge = `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
	rfc7616Answer    = `Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
	rfc7616CNonce    = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
)

func TestRFCExamples(t *testing.T) {
	cases := []struct {
		name, challenge, answer, realm, password, cnonce string
	}{
		{"RFC 2617 MD5", rfc2617Challenge, rfc2617Answer, "testrealm@host.com", "Circle Of Life", "0a4f113b"},
		{"RFC 7616 SHA-256", rfc7616Challenge, rfc7616Answer, "http-auth@example.org", "Circle of Life", rfc7616CNonce},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, ok := Parse(c.challenge)
			if !ok || !ch.Supported() || !ch.QopOffered || !ch.QopAuth || ch.Realm != c.realm {
				t.Fatalf("challenge %+v, %v", ch, ok)
			}
			got, err := ch.Authorization("Mufasa", c.password, "GET", "/dir/index.html", 1, c.cnonce)
			if err != nil {
				t.Fatal(err)
			}
			// Parameter order is free; every one the RFC sends must match.
			gp, wp := Params(strings.TrimPrefix(got, "Digest ")), Params(strings.TrimPrefix(c.answer, "Digest "))
			for k, v := range wp {
				if k == "algorithm" && gp[k] == "" {
					continue
				}
				if gp[k] != v {
					t.Errorf("%s = %q, the RFC says %q", k, gp[k], v)
				}
			}
			// The server side takes the RFC's own answer, and not with
			// another password or method.
			nonce := func(n string) bool { return n == ch.Nonce }
			if !Verify(c.answer, "GET", c.realm, "Mufasa", c.password, nonce) {
				t.Error("the RFC's answer refused")
			}
			if Verify(c.answer, "GET", c.realm, "Mufasa", "circle of life", nonce) || Verify(c.answer, "POST", c.realm, "Mufasa", c.password, nonce) {
				t.Error("a wrong password or method accepted")
			}
		})
	}
	// RFC 7616's MD5 variant of the same exchange.
	if got := response(md5.New, "Mufasa", "http-auth@example.org", "Circle of Life", "GET", "/dir/index.html",
		"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001", rfc7616CNonce, true); got != "8ca523f5e9506fed4657c9700eebdbec" {
		t.Errorf("RFC 7616 MD5 = %s", got)
	}
}

// With no qop offered the answer is RFC 2069's. RFC 2069's own example is
// wrong (errata), so the value is computed apart from this package:
// python3 hashlib.md5 of HA1:nonce:HA2 for the RFC 2617 example's inputs.
func TestNoQopIsRFC2069(t *testing.T) {
	ch, ok := Parse(`Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"`)
	if !ok || ch.QopOffered {
		t.Fatalf("%+v", ch)
	}
	got, err := ch.Authorization("Mufasa", "Circle Of Life", "GET", "/dir/index.html", 1, "unused")
	if err != nil {
		t.Fatal(err)
	}
	p := Params(strings.TrimPrefix(got, "Digest "))
	if p["response"] != "670fd8c2df070c60b045671b8b24ff02" || p["qop"] != "" || p["nc"] != "" || p["cnonce"] != "" {
		t.Errorf("%s", got)
	}
}

func TestParse(t *testing.T) {
	ch, ok := Parse(`  digest Realm="a \"quoted\" realm", NONCE=tok , stale=TRUE, algorithm=sha-256, qop=auth`)
	if !ok || ch.Realm != `a "quoted" realm` || ch.Nonce != "tok" || !ch.Stale || !ch.Supported() || !ch.QopAuth {
		t.Errorf("%+v", ch)
	}
	for _, h := range []string{
		`Basic realm="x"`,
		`Digest realm="no nonce"`,
		`Digest realm="r", nonce=""`,
		`Digest nonce="` + strings.Repeat("n", MaxChallenge) + `"`,
		``,
	} {
		if ch, ok := Parse(h); ok {
			t.Errorf("%.40q parsed as %+v", h, ch)
		}
	}
	if p := Params(strings.Repeat("k=v, ", 1000)); len(p) != 1 {
		t.Errorf("repeated key: %d entries", len(p))
	}
	var many strings.Builder
	for i := range 1000 {
		many.WriteString("k" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + "=v,")
	}
	if p := Params(many.String()); len(p) > MaxParams {
		t.Errorf("%d params kept", len(p))
	}
}

// What Authorization cannot answer it says so, with errors a caller can
// tell apart, instead of sending an answer that must fail.
func TestRefusesWhatItCannotCompute(t *testing.T) {
	ch, _ := Parse(`Digest realm="r", nonce="n", algorithm=SHA-512-256`)
	if ch.Supported() {
		t.Error("SHA-512-256 supported")
	}
	if _, err := ch.Authorization("u", "p", "GET", "/", 1, "c"); !errors.Is(err, ErrAlgorithm) || !strings.Contains(err.Error(), `"SHA-512-256"`) {
		t.Errorf("SHA-512-256: %v", err)
	}
	ch, _ = Parse(`Digest realm="r", nonce="n", qop="auth-int"`)
	if _, err := ch.Authorization("u", "secret-pw", "GET", "/", 1, "c"); !errors.Is(err, ErrQop) || strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("auth-int only: %v", err)
	}
}

// The whole exchange over net/http's client and server: the challenge and
// the answer survive real header handling, a stale nonce is told apart from
// a wrong password, and the responder's nonce bookkeeping is what Verify
// consults.
func TestOverNetHTTP(t *testing.T) {
	const realm, user, password = `Login to "DS-2CD" \ 1`, "admin", "pa:ss, \"word\""
	var mu sync.Mutex
	issued := map[string]bool{}
	fresh := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ok := func(n string) bool { return issued[n] }
		if h := r.Header.Get("Authorization"); h != "" && Verify(h, r.Method, realm, user, password, ok) {
			_, _ = io.WriteString(w, "in")
			return
		}
		fresh++
		n := "nonce-" + strings.Repeat("x", fresh)
		issued[n] = true
		w.Header().Add("WWW-Authenticate", `Basic realm="x"`)
		w.Header().Add("WWW-Authenticate", `Digest realm=`+Quote(realm)+`, qop="auth", algorithm=SHA-256, nonce=`+Quote(n))
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()

	get := func(authz string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ISAPI/System/deviceInfo?x=1", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := get("")
	var ch Challenge
	found := false
	for _, h := range first.Header.Values("WWW-Authenticate") {
		if ch, found = Parse(h); found {
			break
		}
	}
	if first.StatusCode != http.StatusUnauthorized || !found || ch.Realm != realm {
		t.Fatalf("401 %d, challenge %+v", first.StatusCode, ch)
	}
	for nc := uint32(1); nc <= 2; nc++ {
		a, err := ch.Authorization(user, password, http.MethodGet, "/ISAPI/System/deviceInfo?x=1", nc, "cn")
		if err != nil {
			t.Fatal(err)
		}
		if r := get(a); r.StatusCode != http.StatusOK {
			t.Fatalf("answer %d refused: %d", nc, r.StatusCode)
		}
	}
	bad, _ := ch.Authorization(user, "wrong", http.MethodGet, "/ISAPI/System/deviceInfo?x=1", 3, "cn")
	if r := get(bad); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", r.StatusCode)
	}
	forged := ch
	forged.Nonce = "never-issued"
	a, _ := forged.Authorization(user, password, http.MethodGet, "/ISAPI/System/deviceInfo?x=1", 1, "cn")
	if r := get(a); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a nonce the server never issued: %d", r.StatusCode)
	}
}

func TestVerifyBounds(t *testing.T) {
	yes := func(string) bool { return true }
	ch := Challenge{Realm: "r", Nonce: "n", QopOffered: true, QopAuth: true}
	a, _ := ch.Authorization("u", "p", "GET", "/", 1, "c")
	if !Verify(a, "GET", "r", "u", "p", yes) {
		t.Fatal("own answer refused")
	}
	if Verify(a+", x="+Quote(strings.Repeat("x", MaxAuthorization)), "GET", "r", "u", "p", yes) {
		t.Error("an oversized Authorization accepted")
	}
	if Verify(a, "GET", "other realm", "u", "p", yes) || Verify(a, "GET", "r", "v", "p", yes) {
		t.Error("a wrong realm or user accepted")
	}
	if Verify(strings.Replace(a, "Digest", "Basic", 1), "GET", "r", "u", "p", yes) {
		t.Error("another scheme accepted")
	}
	if Verify(strings.Replace(a, "algorithm=MD5", "algorithm=MD4", 1), "GET", "r", "u", "p", yes) {
		t.Error("an unknown algorithm accepted")
	}
}
