package telnet

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// Defaults.
const (
	DefaultPort    = 23
	DefaultTimeout = 3 * time.Second
	// settle is how long a greeting may pause before we take it as
	// finished: a prompt ends it at once, a banner without one needs a
	// quiet moment.
	settle = 400 * time.Millisecond
)

// Prober reads the telnet greeting of a host.
type Prober struct {
	Port    int           // DefaultPort when 0
	Timeout time.Duration // for the whole greeting; DefaultTimeout when 0
	Dial    probes.DialFunc
	Now     func() time.Time
}

// New returns the "telnet" prober for TCP 23.
func New() *Prober { return &Prober{} }

// Name is "telnet".
func (p *Prober) Name() string { return "telnet" }

// Probe emits telnet.banner when the server printed any text. A closed or
// silent port, or one that only negotiates, emits nothing and is no error;
// only ctx ending is.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	return probes.ProbeBanner(ctx, t, emit, "telnet", cmp.Or(p.Port, DefaultPort), p.Now, func(ctx context.Context, addr string) string {
		text, _ := p.Read(ctx, addr)
		return text
	})
}

// Read connects to addr and returns the printable greeting, refusing every
// option on the way. It returns what it has even with an error: a greeting
// cut off by the deadline or the byte bound is still the device's words.
func (p *Prober) Read(ctx context.Context, addr string) (string, error) {
	ctx, c, release, err := probes.DialWithin(ctx, p.Dial, addr, cmp.Or(p.Timeout, DefaultTimeout))
	if err != nil {
		return "", err
	}
	defer release()
	var g Greeting
	buf := make([]byte, 1024)
	var out []byte
	for total := 0; total < MaxRead; {
		if g.Text() != "" {
			probes.Settle(ctx, c, settle)
		}
		n, err := c.Read(buf[:min(len(buf), MaxRead-total)])
		total += n
		out = g.Feed(buf[:n], out[:0])
		if len(out) > 0 {
			if _, werr := c.Write(out); werr != nil && err == nil {
				err = werr
			}
		}
		if g.Prompt() || g.Full() {
			return g.Text(), nil
		}
		if err != nil {
			var ne net.Error
			if g.Text() != "" && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
				return g.Text(), nil // the pause after a banner without a prompt
			}
			if errors.Is(err, io.EOF) {
				return g.Text(), nil
			}
			return g.Text(), err
		}
	}
	return g.Text(), nil
}

// Responder is an emulated telnet server: it offers the options BusyBox
// telnetd offers, prints Banner after a blank line, and then reads and
// ignores whatever the client sends until it hangs up, as a login prompt
// that nobody answers would.
type Responder struct {
	Banner string
	Log    *slog.Logger
}

// busyboxOffer is what BusyBox telnetd sends first (networking/telnetd.c,
// iacs_to_send): DO ECHO, DO NAWS, WILL ECHO, WILL SGA.
var busyboxOffer = []byte{IAC, DO, 1, IAC, DO, 31, IAC, WILL, 1, IAC, WILL, 3}

// Responder bounds.
const (
	respIdle    = 10 * time.Second
	respMaxRead = 4 << 10
)

// Serve answers connections on ln until ctx ends; it returns nil then.
func (r *Responder) Serve(ctx context.Context, ln net.Listener) error {
	return probes.ServeConns(ctx, ln, "telnet responder", r.Log, r.serveConn)
}

func (r *Responder) serveConn(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(respIdle))
	banner := strings.ReplaceAll(strings.ReplaceAll(r.Banner, "\r\n", "\n"), "\n", "\r\n")
	msg := append(append([]byte{}, busyboxOffer...), "\r\n"+banner+" "...)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, io.LimitReader(c, respMaxRead))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}
