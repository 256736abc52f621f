package ftp

import (
	"bufio"
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
	DefaultPort    = 21
	DefaultTimeout = 3 * time.Second
)

// Prober reads the FTP greeting of a host.
type Prober struct {
	Port    int           // DefaultPort when 0
	Timeout time.Duration // for the whole greeting; DefaultTimeout when 0
	Dial    probes.DialFunc
	Now     func() time.Time
}

// New returns the "ftp" prober for TCP 21.
func New() *Prober { return &Prober{} }

// Name is "ftp".
func (p *Prober) Name() string { return "ftp" }

// Probe emits ftp.banner, the text of a 220 greeting (also a partial one,
// cut by the deadline or the byte bound). Other codes (421 "too many
// users") and non-FTP services emit nothing; only ctx ending is an error.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	return probes.ProbeBanner(ctx, t, emit, "ftp", cmp.Or(p.Port, DefaultPort), p.Now, func(ctx context.Context, addr string) string {
		if r, _ := p.Read(ctx, addr); r.Code == 220 {
			return r.Text
		}
		return ""
	})
}

// Read connects to addr and returns the greeting, complete or as far as it
// arrived before the deadline or MaxRead bytes.
func (p *Prober) Read(ctx context.Context, addr string) (Reply, error) {
	_, c, release, err := probes.DialWithin(ctx, p.Dial, addr, cmp.Or(p.Timeout, DefaultTimeout))
	if err != nil {
		return Reply{}, err
	}
	defer release()
	buf := make([]byte, MaxRead)
	n := 0
	var r Reply
	for n < len(buf) {
		m, rerr := c.Read(buf[n:])
		n += m
		r, err = ParseReply(buf[:n])
		if errors.Is(err, ErrNotFTP) && n >= 4 {
			return Reply{}, err
		}
		if r.Complete {
			// Hang up politely; the answer does not matter.
			_, _ = c.Write([]byte("QUIT\r\n"))
			return r, nil
		}
		if rerr != nil {
			if err == nil {
				err = rerr
			}
			return r, err
		}
	}
	return r, err
}

// Responder is an emulated FTP server: it greets with "220 Banner" and
// answers QUIT with 221 and anything else with 530, never logging anyone in.
type Responder struct {
	Banner string
	Log    *slog.Logger
}

// Responder bounds.
const (
	respIdle        = 10 * time.Second
	respMaxCommands = 16
	respMaxLine     = 512
)

// Serve answers connections on ln until ctx ends; it returns nil then.
func (r *Responder) Serve(ctx context.Context, ln net.Listener) error {
	return probes.ServeConns(ctx, ln, "ftp responder", r.Log, r.serveConn)
}

// Greeting formats Banner as a 220 reply, multi-line when it holds "\n".
func Greeting(banner string) string {
	lines := strings.Split(strings.ReplaceAll(banner, "\r\n", "\n"), "\n")
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		b.WriteString("220" + sep + l + "\r\n")
	}
	return b.String()
}

func (r *Responder) serveConn(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(respIdle))
	if _, err := io.WriteString(c, Greeting(r.Banner)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(io.LimitReader(c, respMaxCommands*respMaxLine), respMaxLine)
	for range respMaxCommands {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		cmd, _, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
		if strings.EqualFold(cmd, "QUIT") {
			_, err := io.WriteString(c, "221 Goodbye.\r\n")
			return err
		}
		if _, err := io.WriteString(c, "530 Please login with USER and PASS.\r\n"); err != nil {
			return err
		}
	}
	return nil
}
