package nvr

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The digest arithmetic and its RFC vectors are tested in
// probes/internal/digest; here, how a recorder's 401 is read.
func TestParseChallenges(t *testing.T) {
	ch, ok := parseChallenges([]string{`Basic realm="x"`, `Digest realm="DS-NVR", qop="auth,auth-int", nonce="abc", opaque="o", algorithm=SHA-256, stale=TRUE`})
	if !ok || !ch.digest || !ch.basic || ch.Realm != "DS-NVR" || ch.Nonce != "abc" || !ch.QopAuth || !ch.Stale || ch.Algorithm != "SHA-256" || ch.scheme() != AuthDigest {
		t.Errorf("%+v", ch)
	}
	// An algorithm we cannot compute is passed over for the next one.
	ch, ok = parseChallenges([]string{`Digest realm="r", nonce="n1", algorithm=SHA-512-256`, `Digest realm="r", nonce="n2"`})
	if !ok || ch.Nonce != "n2" {
		t.Errorf("%+v", ch)
	}
	if _, ok := parseChallenges([]string{`Negotiate`, `Digest realm="r"`}); ok {
		t.Error("a Digest challenge without nonce accepted")
	}
	ch, _ = parseChallenges([]string{`Digest realm="r", nonce="n", qop="auth-int"`})
	if _, err := ch.authorization(Credential{User: "u", Password: "p"}, "GET", "/", 1, "c"); !errors.Is(err, errNoScheme) {
		t.Errorf("auth-int only: %v", err)
	}
	if _, err := (challenge{}).authorization(Credential{User: "u", Password: "p"}, "GET", "/", 1, "c"); !errors.Is(err, errNoScheme) {
		t.Errorf("no scheme: %v", err)
	}
}

// Basic goes out only to a device that asked for it, and then in the form
// net/http's own server reads.
func TestBasicOnlyWhenAsked(t *testing.T) {
	var sawAuth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth = append(sawAuth, r.Header.Get("Authorization"))
		if u, p, ok := r.BasicAuth(); ok && u == "admin" && p == "pa:ss word" {
			_, _ = w.Write([]byte("ok"))
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="nvr"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	s := testSession(srv.URL, Credential{User: "admin", Password: "pa:ss word"})
	b, err := s.get(context.Background(), "/x")
	if err != nil || string(b) != "ok" || s.auth != AuthBasic {
		t.Fatalf("get = %q, %v, auth %s", b, err, s.auth)
	}
	if sawAuth[0] != "" {
		t.Errorf("the first request carried credentials before the device asked: %q", sawAuth[0])
	}
}

// The Digest answer is accepted by the emulator, which checks it the way a
// recorder does, over net/http's client and server.
func TestDigestAgainstEmulator(t *testing.T) {
	e := &Emulator{Kind: KindHikvision, Model: "DS-7608NXI-I2/8P/S", DeviceType: "NVR", User: "admin", Password: "Emu-Pass-1"}
	srv := httptest.NewServer(e)
	defer srv.Close()
	s := testSession(srv.URL, Credential{User: "admin", Password: "Emu-Pass-1"})
	for range 3 {
		if _, err := s.get(context.Background(), isapiDeviceInfo); err != nil {
			t.Fatal(err)
		}
	}
	if st := e.Stats(); st.Good != 3 || st.Bad != 0 {
		t.Errorf("emulator saw %+v; want the nonce reused for three good requests", st)
	}
}

func testSession(base string, creds ...Credential) *session {
	return &session{base: strings.TrimSuffix(base, "/"), dev: "d", creds: creds, ledger: NewLedger(4), hc: NewHTTPClient(),
		timeout: 2 * time.Second, maxBody: DefaultMaxBody, now: time.Now, log: discard}
}
