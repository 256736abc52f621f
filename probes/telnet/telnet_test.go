package telnet_test

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/probetest"
	"github.com/camwarden/camwarden/probes/probetest/simtest"
	"github.com/camwarden/camwarden/probes/telnet"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// probe runs the prober against a loopback port and returns its facts.
func probe(t *testing.T, p *telnet.Prober) map[string]string {
	t.Helper()
	return probetest.Probe(t, p, probes.Target{IP: loopback})
}

// TestCamsimTelnet runs the camsim responder as a profile would and checks
// the prompt comes back as written, with nothing sent but refusals.
func TestCamsimTelnet(t *testing.T) {
	for _, banner := range []string{"192.0.0.64 login:", "Welcome to Network Camera telnet daemon\n\nPassword:", "(none) login:"} {
		h := simtest.Start(t, camsim.Profile{Name: "t", Telnet: &camsim.TelnetProfile{Banner: banner}}, telnet.DefaultPort)
		start := time.Now()
		got := probe(t, &telnet.Prober{Port: h.Port(telnet.DefaultPort)})
		want := strings.Join(strings.Fields(banner), " ")
		if got["telnet.banner"] != want {
			t.Errorf("banner %q, want %q", got["telnet.banner"], want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%q: took %v; a prompt should end the read at once", banner, d)
		}
	}
}

// TestRefusesAndSendsNothingElse plays BusyBox telnetd's opening and
// records every byte the prober sends: only WONT/DONT, never a line.
func TestRefusesAndSendsNothingElse(t *testing.T) {
	sent := make(chan []byte, 1)
	port := probetest.ServeTCP(t, func(c net.Conn) {
		c.Write([]byte{255, 253, 1, 255, 253, 31, 255, 251, 1, 255, 251, 3})
		// like a real server, wait for the answers before the prompt
		buf := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := c.Read(buf)
		c.Write([]byte("\r\n\x1b[1;32mDVR_NETRA Board (2.6.37)\x1b[0m\r\n\rlogin: "))
		var rest bytes.Buffer
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		rest.ReadFrom(c)
		sent <- append(buf[:n], rest.Bytes()...)
	})
	got := probe(t, &telnet.Prober{Port: port})
	if got["telnet.banner"] != "DVR_NETRA Board (2.6.37) login:" {
		t.Errorf("banner %q", got["telnet.banner"])
	}
	want := []byte{255, 252, 1, 255, 252, 31, 255, 254, 1, 255, 254, 3}
	if b := <-sent; !bytes.Equal(b, want) {
		t.Errorf("prober sent % x, want only the refusals % x", b, want)
	}
}

func TestHostileServers(t *testing.T) {
	endlessIAC := probetest.ServeTCP(t, func(c net.Conn) {
		go func() { _, _ = c.Read(make([]byte, 1<<16)) }()
		for i := 0; ; i++ {
			if _, err := c.Write([]byte{255, 253, byte(i), 255, 251, byte(i), 255, 250, 24, 1, 255, 240}); err != nil {
				return
			}
		}
	})
	neverEnds := probetest.ServeTCP(t, func(c net.Conn) {
		line := []byte(strings.Repeat("x", 70) + "\r\n")
		for {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	})
	drip := probetest.ServeTCP(t, func(c net.Conn) {
		for _, b := range []byte("Welcome to the machine, it keeps on talking") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	junk := probetest.ServeTCP(t, func(c net.Conn) {
		b := make([]byte, 4096)
		for i := range b {
			b[i] = byte(i*7 + 128)
		}
		c.Write(b)
		time.Sleep(3 * time.Second)
	})
	silent := probetest.ServeTCP(t, func(c net.Conn) { time.Sleep(3 * time.Second) })
	onlyNegotiates := probetest.ServeTCP(t, func(c net.Conn) {
		c.Write([]byte{255, 251, 1, 255, 251, 3})
		time.Sleep(3 * time.Second)
	})
	closed := probetest.FreePort(t)
	cases := []struct {
		name   string
		port   int
		check  func(string) bool
		within time.Duration
	}{
		{"endless IAC", endlessIAC, func(s string) bool { return s == "" }, 1500 * time.Millisecond},
		{"never ends", neverEnds, func(s string) bool {
			return len(s) >= probes.MaxFactValue-1 && strings.Trim(s, "x ") == ""
		}, 500 * time.Millisecond},
		{"slow drip", drip, func(s string) bool { return strings.HasPrefix(s, "Welcome") }, 1500 * time.Millisecond},
		{"binary junk", junk, func(s string) bool { return s == "" }, 1500 * time.Millisecond},
		{"silent", silent, func(s string) bool { return s == "" }, 1500 * time.Millisecond},
		{"only negotiates", onlyNegotiates, func(s string) bool { return s == "" }, 1500 * time.Millisecond},
		{"closed", closed, func(s string) bool { return s == "" }, 500 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			got := probe(t, &telnet.Prober{Port: c.port, Timeout: time.Second})
			if d := time.Since(start); d > c.within {
				t.Errorf("took %v, want at most %v", d, c.within)
			}
			if !c.check(got["telnet.banner"]) {
				t.Errorf("banner %q", got["telnet.banner"])
			}
		})
	}
}

func TestGreetingRefusesEachOptionOnce(t *testing.T) {
	var g telnet.Greeting
	in := bytes.Repeat([]byte{255, 253, 24, 255, 251, 1, 255, 254, 5, 255, 252, 6}, 100)
	out := g.Feed(in, nil)
	if want := []byte{255, 252, 24, 255, 254, 1}; !bytes.Equal(out, want) {
		t.Errorf("answers % x, want % x", out, want)
	}
	// IAC IAC is a data 255, subnegotiation is skipped whole, split feeds
	// keep their state.
	g = telnet.Greeting{}
	msg := []byte("a\xff\xffb\xff\xfa\x18\x01ignored\xff\xff\xff\xf0 c\xff\xf1d\r\n")
	for i := range msg {
		g.Feed(msg[i:i+1], nil)
	}
	if g.Text() != "ab cd" {
		t.Errorf("text %q", g.Text())
	}
}

func FuzzGreeting(f *testing.F) {
	f.Add([]byte{255, 253, 1, 255, 253, 31, 255, 251, 1, 255, 251, 3, '\r', '\n', 'l', 'o', 'g', 'i', 'n', ':', ' '})
	f.Add([]byte("\xff\xfa\x18\x01\xff\xf0\x1b[2J\x1b[1;1Hlogin:"))
	f.Add([]byte{255, 255, 255})
	f.Fuzz(func(t *testing.T, in []byte) {
		var g telnet.Greeting
		out := g.Feed(in, nil)
		// at most one refusal per option and direction
		if len(out) > 2*256*3 || len(out)%3 != 0 {
			t.Fatalf("%d bytes of answers", len(out))
		}
		for i := 0; i < len(out); i += 3 {
			if out[i] != telnet.IAC || (out[i+1] != telnet.WONT && out[i+1] != telnet.DONT) {
				t.Fatalf("answer % x is not a refusal", out[i:i+3])
			}
		}
		s := g.Text()
		if len(s) > telnet.MaxText {
			t.Fatalf("text of %d bytes", len(s))
		}
		for _, r := range s {
			if r < 0x20 || r > 0x7e {
				t.Fatalf("unprintable %q in %q", r, s)
			}
		}
		if strings.Contains(s, "  ") {
			t.Fatalf("white space not collapsed: %q", s)
		}
	})
}
