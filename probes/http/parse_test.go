package httpprobe

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes/probetest"
)

func TestParseHeadGolden(t *testing.T) {
	tests := []struct {
		file            string
		proto           string
		status          int
		server          string
		upper           bool
		scheme, realm   string
		extraKey, extra string
	}{
		{"hikvision-root.head", "HTTP/1.1", 302, "App-webs/", false, "", "", "Location", "/doc/page/login.asp"},
		{"hikvision-isapi-401.head", "HTTP/1.1", 401, "App-webs/", false, "Digest", "DS-2CD2385G1-I", "", ""},
		{"dahua-root.head", "HTTP/1.1", 200, "", true, "", "", "P3P", "CP=CAO PSA OUR"},
		{"xiongmai-lf.head", "HTTP/1.0", 200, "uc-httpd 1.0.0", false, "", "", "Content-Type", "text/html"},
		{"dahua-rtsp-401.head", "RTSP/1.0", 401, "Dahua Rtsp Server", false, "Digest", "Login to 6G0ABCD1234567", "CSeq", "2"},
		{"axis-basic-folded.head", "HTTP/1.1", 401, "", false, "Basic", "AXIS_ACCC8E123456", "X-Folded", "one two"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h, err := ParseHead(probetest.Golden(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if h.Proto != tt.proto || h.Status != tt.status {
				t.Errorf("status line = %s %d, want %s %d", h.Proto, h.Status, tt.proto, tt.status)
			}
			if got := h.Get("server"); got != tt.server {
				t.Errorf("Server = %q, want %q", got, tt.server)
			}
			if h.UpperCase() != tt.upper {
				t.Errorf("UpperCase = %v, want %v", h.UpperCase(), tt.upper)
			}
			scheme, realm := ParseAuth(h.Get("WWW-Authenticate"))
			if tt.realm != "" && (scheme != tt.scheme || realm != tt.realm) {
				t.Errorf("auth = %q %q, want %q %q", scheme, realm, tt.scheme, tt.realm)
			}
			if tt.extraKey != "" && h.Get(tt.extraKey) != tt.extra {
				t.Errorf("%s = %q, want %q", tt.extraKey, h.Get(tt.extraKey), tt.extra)
			}
		})
	}
}

func TestParseHeadErrors(t *testing.T) {
	for in, want := range map[string]error{
		"":                             nil, // EOF
		"garbage\r\n\r\n":              ErrMalformed,
		"HTTP/1.1 2000 OK\r\n\r\n":     ErrMalformed,
		"HTTP/1.1 099 X\r\n\r\n":       ErrMalformed,
		"HTTP/1.1 200 OK\r\nServer: x": nil, // EOF before the blank line
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("A: b\r\n", MaxHead/6+1) + "\r\n": ErrHeadTooLarge,
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", MaxHead) + "\r\n\r\n":     ErrHeadTooLarge,
	} {
		_, err := ParseHead([]byte(in))
		if err == nil || (want != nil && !errors.Is(err, want)) {
			t.Errorf("ParseHead(%.30q) = %v, want %v", in, err, want)
		}
	}
}

func TestParseAuth(t *testing.T) {
	for in, want := range map[string][2]string{
		`Digest realm="a\"b", nonce="x"`:        {"Digest", `a"b`},
		`Digest qop="auth", realm="Hikvision"`:  {"Digest", "Hikvision"},
		`Basic realm=AXIS_1, charset="UTF-8"`:   {"Basic", "AXIS_1"},
		`Bearer`:                                {"Bearer", ""},
		`Digest nonce="realm=\"no\"", stale=no`: {"Digest", ""},
	} {
		s, r := ParseAuth(in)
		if s != want[0] || r != want[1] {
			t.Errorf("ParseAuth(%q) = %q %q, want %q", in, s, r, want)
		}
	}
}

func TestTitleAndNamespaces(t *testing.T) {
	if got := Title(probetest.Golden(t, "dahua.body")); got != "WEB SERVICE" {
		t.Errorf("Title = %q", got)
	}
	if got := Title([]byte("<title>A &amp; B</title>")); got != "A & B" {
		t.Errorf("Title entity = %q", got)
	}
	if got := Title([]byte("<title>never closed")); got != "" {
		t.Errorf("unterminated title = %q", got)
	}
	ns := XMLNamespaces(probetest.Golden(t, "hikvision-activate.body"), 4)
	if !slices.Equal(ns, []string{"http://www.hikvision.com/ver20/XMLSchema"}) {
		t.Errorf("XMLNamespaces = %q", ns)
	}
	ns = XMLNamespaces([]byte(`<a xmlns:s='urn:a' xmlns="urn:b"><b xmlns="urn:b" xmlns:t="urn:c"/></a>`), 2)
	if !slices.Equal(ns, []string{"urn:a", "urn:b"}) {
		t.Errorf("XMLNamespaces capped = %q", ns)
	}
}

func seedAll(f *testing.F, suffix string) {
	ents, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			f.Add(probetest.Golden(f, e.Name()))
		}
	}
}

func FuzzParseHead(f *testing.F) {
	seedAll(f, ".head")
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHead(b)
		if err != nil {
			return
		}
		if h.Status < 100 || h.Status > 999 || len(h.Fields) > MaxFields {
			t.Fatalf("accepted head out of bounds: %d, %d fields", h.Status, len(h.Fields))
		}
		for _, v := range h.Values("WWW-Authenticate") {
			ParseAuth(v)
		}
		h.UpperCase()
	})
}

func FuzzParseAuth(f *testing.F) {
	for _, s := range []string{`Digest realm="Hikvision", nonce="a"`, `Basic realm=AXIS_1`, `Digest realm="a\"`, `x =`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, realm := ParseAuth(s)
		if len(realm) > len(s) {
			t.Fatalf("realm longer than input")
		}
	})
}

func FuzzBody(f *testing.F) {
	seedAll(f, ".body")
	f.Fuzz(func(t *testing.T, b []byte) {
		if ti := Title(b); len(ti) > 0 && !strings.Contains(strings.ToLower(string(b)), "<title") {
			t.Fatalf("title %q from a body without <title", ti)
		}
		if ns := XMLNamespaces(b, 4); len(ns) > 4 {
			t.Fatalf("%d namespaces, cap 4", len(ns))
		}
	})
}
