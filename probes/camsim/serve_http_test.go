package camsim

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// freeOffset is FreeOffset for a test.
func freeOffset(t *testing.T, ports ...int) int {
	t.Helper()
	off, err := FreeOffset(ports...)
	if err != nil {
		t.Fatal(err)
	}
	return off
}

// startProfile runs p on 127.0.0.1 and waits until port answers.
func startProfile(t *testing.T, p Profile, waitPorts ...int) Host {
	t.Helper()
	h := Host{IP: netip.MustParseAddr("127.0.0.1"), MAC: p.MAC(1), PortOffset: freeOffset(t, waitPorts...)}
	stop := Start(p, h, nil)
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- stop() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	if err := WaitListening(h, 3*time.Second, waitPorts...); err != nil {
		t.Fatalf("%s: %v", p.Name, err)
	}
	return h
}

// rawGet sends a GET and returns the header block lines as sent and the body.
func rawGet(t *testing.T, c net.Conn, path string) ([]string, string) {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	br := bufio.NewReader(c)
	var lines []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read header: %v", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			break
		}
		lines = append(lines, l)
	}
	body, _ := io.ReadAll(br)
	return lines, string(body)
}

func TestServeHTTPProfiles(t *testing.T) {
	ps, err := Profiles()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range ps {
		if p.HTTP == nil {
			continue
		}
		n++
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			h := startProfile(t, p, 80)
			base := fmt.Sprintf("http://127.0.0.1:%d", h.Port(80))
			cl := &http.Client{Timeout: 3 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := cl.Get(base + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := resp.Header.Get("Server"); got != p.HTTP.Server {
				t.Errorf("Server = %q, want %q", got, p.HTTP.Server)
			}
			if p.HTTP.Redirect != "" {
				if resp.StatusCode != 302 || resp.Header.Get("Location") != p.HTTP.Redirect {
					t.Errorf("GET / = %d Location %q, want 302 %q", resp.StatusCode, resp.Header.Get("Location"), p.HTTP.Redirect)
				}
			} else if !strings.Contains(string(body), "<title>"+p.HTTP.Title+"</title>") {
				t.Errorf("GET / body %q lacks title %q", body, p.HTTP.Title)
			}
			for k, v := range p.HTTP.Headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for path, status := range p.HTTP.Paths {
				resp, err := cl.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != status {
					t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, status)
				}
				wa := resp.Header.Get("WWW-Authenticate")
				if status == 401 && p.HTTP.Realm != "" && !strings.Contains(wa, `realm="`+p.HTTP.Realm+`"`) {
					t.Errorf("GET %s WWW-Authenticate = %q, want realm %q", path, wa, p.HTTP.Realm)
				}
				if want, ok := p.HTTP.Bodies[path]; ok && string(b) != want {
					t.Errorf("GET %s body = %q, want %q", path, b, want)
				}
			}
			resp, err = cl.Get(base + "/no/such/path")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("unknown path = %d, want 404", resp.StatusCode)
			}
			c, err := net.Dial("tcp", base[len("http://"):])
			if err != nil {
				t.Fatal(err)
			}
			lines, _ := rawGet(t, c, "/")
			for _, l := range lines[1:] {
				name, _, _ := strings.Cut(l, ":")
				if p.HTTP.UpperHeaders && name != strings.ToUpper(name) {
					t.Errorf("header line %q not upper-case with upper_headers", l)
				}
				if !p.HTTP.UpperHeaders && name == "CONTENT-LENGTH" {
					t.Errorf("header line %q upper-case without upper_headers", l)
				}
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d profiles with http", n)
	}
}

func TestServeHTTPSProfiles(t *testing.T) {
	for _, name := range []string{"hikvision", "huawei"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			h := startProfile(t, p, 443)
			addr := fmt.Sprintf("127.0.0.1:%d", h.Port(443))
			// We inspect the emulated camera's certificate, we do not trust it.
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			cert := c.ConnectionState().PeerCertificates[0]
			if cert.Subject.CommonName != p.TLS.CommonName || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != p.TLS.Organization {
				t.Errorf("subject = %s, want CN=%s O=%s", cert.Subject, p.TLS.CommonName, p.TLS.Organization)
			}
			lines, body := rawGet(t, c, "/")
			if p.HTTPS.Redirect == "" && !strings.Contains(body, "<title>"+p.HTTPS.Title+"</title>") {
				t.Errorf("body %q lacks title %q (head %q)", body, p.HTTPS.Title, lines)
			}
		})
	}
}

// any_path makes the emulated web server answer unknown paths the three ways
// real ones do; the replay lab and the HTTP prober's baseline tests use it.
func TestServeHTTPAnyPath(t *testing.T) {
	for _, mode := range []string{"404", "200", "401"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p := Profile{Name: "anypath-" + mode, HTTP: &HTTPProfile{
				Title: "Any", Realm: "AnyRealm", AuthScheme: "Basic", AnyPath: mode,
				Paths:  map[string]int{"/known": 200},
				Bodies: map[string]string{"/known": "known body"},
			}}
			h := startProfile(t, p, 80)
			addr := fmt.Sprintf("127.0.0.1:%d", h.Port(80))
			get := func(path string) (string, string, string) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				lines, body := rawGet(t, c, path)
				auth := ""
				for _, l := range lines[1:] {
					if k, v, _ := strings.Cut(l, ": "); strings.EqualFold(k, "WWW-Authenticate") {
						auth = v
					}
				}
				return lines[0], auth, body
			}
			root, _, rootBody := get("/")
			for _, path := range []string{"/", "/known", "/no/such/path", "/favicon.ico"} {
				status, auth, body := get(path)
				switch {
				case mode == "401":
					if !strings.Contains(status, " 401 ") || auth != `Basic realm="AnyRealm"` {
						t.Errorf("%s: %q %q, want 401 with the Basic challenge", path, status, auth)
					}
					if _, _, other := get("/"); body != other {
						t.Errorf("%s: 401 body differs from the root's", path)
					}
				case path == "/known":
					if !strings.Contains(status, " 200 ") || body != "known body" {
						t.Errorf("%s: %q %q, want the configured answer", path, status, body)
					}
				case path == "/":
				case mode == "200":
					if status != root || body != rootBody || !strings.Contains(body, "<title>Any</title>") {
						t.Errorf("%s: %q %q, want the root page with 200", path, status, body)
					}
				default:
					if !strings.Contains(status, " 404 ") {
						t.Errorf("%s: %q, want 404", path, status)
					}
				}
			}
		})
	}
	t.Run("misspelt", func(t *testing.T) {
		p := Profile{Name: "anypath-bad", HTTP: &HTTPProfile{AnyPath: "all"}}
		h := Host{IP: netip.MustParseAddr("127.0.0.1"), PortOffset: freeOffset(t, 80)}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := Run(ctx, p, h, nil); err == nil || !strings.Contains(err.Error(), "any_path") {
			t.Errorf("Run = %v, want an any_path error", err)
		}
	})
}
