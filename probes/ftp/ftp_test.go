package ftp_test

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/ftp"
	"github.com/camwarden/camwarden/probes/probetest"
	"github.com/camwarden/camwarden/probes/probetest/simtest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func probe(t *testing.T, p *ftp.Prober) map[string]string {
	t.Helper()
	return probetest.Probe(t, p, probes.Target{IP: loopback})
}

func TestCamsimFTP(t *testing.T) {
	// Greetings from nmap-service-probes (Debian nmap-common 7.93): Vivotek
	// and iCatch DVR single-line ones, and a WebGate eDVR multi-line one.
	for _, banner := range []string{
		"Welcome to Network Camera FTP Server",
		"Welcomd to iCatch FTP Server",
		"eDVR FTP Server v1.0 (c)Copyright WebGate Inc. Seoul-Korea\nWelcome to DS1004\nYou will be disconnected after 180 seconds of inactivity.",
	} {
		h := simtest.Start(t, camsim.Profile{Name: "f", FTP: &camsim.FTPProfile{Banner: banner}}, ftp.DefaultPort)
		start := time.Now()
		got := probe(t, &ftp.Prober{Port: h.Port(ftp.DefaultPort)})
		if want := strings.Join(strings.Fields(banner), " "); got["ftp.banner"] != want {
			t.Errorf("banner %q, want %q", got["ftp.banner"], want)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("took %v", d)
		}
	}
}

// TestSendsOnlyQuit records what the prober sends after the greeting.
func TestSendsOnlyQuit(t *testing.T) {
	sent := make(chan []byte, 1)
	port := probetest.ServeTCP(t, func(c net.Conn) {
		c.Write([]byte("220 (vsFTPd 3.0.3)\r\n"))
		var b bytes.Buffer
		c.SetReadDeadline(time.Now().Add(time.Second))
		b.ReadFrom(c)
		sent <- b.Bytes()
	})
	if got := probe(t, &ftp.Prober{Port: port}); got["ftp.banner"] != "(vsFTPd 3.0.3)" {
		t.Errorf("facts %v", got)
	}
	if b := <-sent; string(b) != "QUIT\r\n" {
		t.Errorf("prober sent %q, want only QUIT", b)
	}
}

func TestHostileServers(t *testing.T) {
	neverEnds := probetest.ServeTCP(t, func(c net.Conn) {
		c.Write([]byte("220-Welcome\r\n"))
		for {
			if _, err := c.Write([]byte("220-more and more\r\n")); err != nil {
				return
			}
		}
	})
	drip := probetest.ServeTCP(t, func(c net.Conn) {
		for _, b := range []byte("220 Slow FTP server ready\r\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(80 * time.Millisecond)
		}
	})
	junk := probetest.ServeTCP(t, func(c net.Conn) {
		c.Write([]byte{0xf4, 0, 0, 0, 0x32, 0x30, 0x30})
		time.Sleep(3 * time.Second)
	})
	busy := probetest.ServeTCP(t, func(c net.Conn) {
		c.Write([]byte("421 Too many connections\r\n"))
	})
	oversized := probetest.ServeTCP(t, func(c net.Conn) {
		c.Write([]byte("220 " + strings.Repeat("A", 100000)))
		time.Sleep(3 * time.Second)
	})
	silent := probetest.ServeTCP(t, func(c net.Conn) { time.Sleep(3 * time.Second) })
	closed := probetest.FreePort(t)
	cases := []struct {
		name  string
		port  int
		check func(string) bool
	}{
		{"never ends", neverEnds, func(s string) bool { return strings.HasPrefix(s, "Welcome more and more") }},
		{"slow drip", drip, func(s string) bool { return strings.HasPrefix(s, "Slow") && s != "Slow FTP server ready" }},
		{"binary junk", junk, func(s string) bool { return s == "" }},
		{"421", busy, func(s string) bool { return s == "" }},
		{"oversized", oversized, func(s string) bool { return len(s) == probes.MaxFactValue }},
		{"silent", silent, func(s string) bool { return s == "" }},
		{"closed", closed, func(s string) bool { return s == "" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			got := probe(t, &ftp.Prober{Port: c.port, Timeout: time.Second})
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("took %v", d)
			}
			if !c.check(got["ftp.banner"]) {
				t.Errorf("banner %q", got["ftp.banner"])
			}
		})
	}
}

func TestParseReply(t *testing.T) {
	cases := []struct {
		in       string
		code     int
		text     string
		complete bool
	}{
		{"220 ready\r\n", 220, "ready", true},
		{"220 ready", 220, "ready", false},
		{"220-a\r\n b\r\n220 c\r\n", 220, "a b c", true},
		{"220-a\r\n220-b\r\n", 220, "a b", false},
		{"220-a\r\n221 b\r\n220 c\r\n", 220, "a 221 b c", true},
		{"220\r\n", 220, "", true},
		{"120 wait 5 minutes\r\n", 120, "wait 5 minutes", true},
	}
	for _, c := range cases {
		r, err := ftp.ParseReply([]byte(c.in))
		if err != nil || r.Code != c.code || r.Text != c.text || r.Complete != c.complete {
			t.Errorf("%q: %+v %v", c.in, r, err)
		}
	}
	for _, bad := range []string{"SSH-2.0-x\r\n", "22", "2200 x", "\xff\xfb\x01"} {
		if _, err := ftp.ParseReply([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	f.Add([]byte("220-eDVR FTP Server\r\n220-Welcome to DS1004\r\n220 bye\r\n"))
	f.Add([]byte("220 (vsFTPd 3.0.3)\r\n"))
	f.Add([]byte("421 busy"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ftp.ParseReply(b)
		if err != nil {
			return
		}
		if r.Code < 0 || r.Code > 999 || len(r.Text) > ftp.MaxRead {
			t.Fatalf("%+v", r)
		}
		if strings.Contains(r.Text, "  ") || strings.ContainsAny(r.Text, "\r\n") {
			t.Fatalf("text not collapsed: %q", r.Text)
		}
	})
}
