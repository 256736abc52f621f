package rtsp

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes"
	httpprobe "github.com/camwarden/camwarden/probes/http"
)

// Bounds: an RTSP head is HTTP-shaped, so the HTTP parser's MaxHead applies;
// an SDP body is a few hundred bytes.
const (
	MaxBody        = 64 << 10
	DefaultPort    = 554
	DefaultTimeout = 3 * time.Second
)

// ErrNotRTSP is returned when a reply's status line is not RTSP/1.x.
var ErrNotRTSP = errors.New("not an RTSP reply")

// Response is one parsed RTSP reply.
type Response struct {
	httpprobe.Head
	Body []byte
}

// ReadResponse reads one reply head and its body (Content-Length bytes,
// at most MaxBody) from br.
func ReadResponse(br *bufio.Reader) (Response, error) {
	h, err := httpprobe.ReadHead(br)
	if err != nil {
		return Response{}, err
	}
	if !strings.HasPrefix(h.Proto, "RTSP/1.") {
		return Response{}, fmt.Errorf("%w: %q", ErrNotRTSP, h.Proto)
	}
	r := Response{Head: h}
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return r, fmt.Errorf("bad Content-Length %q", cl)
		}
		if n > MaxBody {
			return r, fmt.Errorf("Content-Length %d over %d", n, MaxBody)
		}
		r.Body = make([]byte, n)
		if _, err := io.ReadFull(br, r.Body); err != nil {
			return r, fmt.Errorf("body: %w", err)
		}
	}
	return r, nil
}

// DialFunc opens a connection; tests inject one that maps ports.
type DialFunc = probes.DialFunc

// Prober asks one host's RTSP server OPTIONS and DESCRIBE on one
// connection.
type Prober struct {
	Port    int           // DefaultPort when 0
	Timeout time.Duration // for the whole exchange; DefaultTimeout when 0
	Dial    DialFunc
	Now     func() time.Time
}

// New returns the "rtsp" prober for port 554.
func New() *Prober { return &Prober{} }

// Name is "rtsp".
func (p *Prober) Name() string { return "rtsp" }

// Probe emits rtsp.server, rtsp.public and rtsp.realm as far as the server
// answered, even when DESCRIBE fails after OPTIONS worked.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	port := p.Port
	if port == 0 {
		port = DefaultPort
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	addr := netip.AddrPortFrom(t.IP, uint16(port)).String()
	_, conn, release, err := probes.DialWithin(ctx, p.Dial, addr, cmp.Or(p.Timeout, DefaultTimeout))
	if err != nil {
		return fmt.Errorf("rtsp: dial %s: %w", addr, err)
	}
	defer release()

	var facts []probes.Fact
	seen := map[string]bool{}
	add := func(k, v string) {
		if v != "" && !seen[k] {
			seen[k] = true
			facts = append(facts, probes.F("rtsp."+k, v))
		}
	}
	defer func() {
		if len(facts) > 0 {
			emit(probes.Observation{Time: now(), MAC: t.MAC, IP: t.IP, Probe: "rtsp", Facts: facts})
		}
	}()
	note := func(r Response) {
		add("server", r.Get("Server"))
		add("public", r.Get("Public"))
		for _, v := range r.Values("WWW-Authenticate") {
			if _, realm := httpprobe.ParseAuth(v); realm != "" {
				add("realm", realm)
				break
			}
		}
	}
	url := "rtsp://" + addr + "/"
	if port == DefaultPort {
		url = "rtsp://" + t.IP.String() + "/"
	}
	br := bufio.NewReader(conn)
	for cseq, method := range []string{"OPTIONS", "DESCRIBE"} {
		req := method + " " + url + " RTSP/1.0\r\nCSeq: " + strconv.Itoa(cseq+1) + "\r\nUser-Agent: camwarden\r\n"
		if method == "DESCRIBE" {
			req += "Accept: application/sdp\r\n"
		}
		if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
			return fmt.Errorf("rtsp: %s to %s: %w", method, addr, err)
		}
		r, err := ReadResponse(br)
		if err != nil {
			return fmt.Errorf("rtsp: %s reply from %s: %w", method, addr, err)
		}
		note(r)
	}
	return nil
}

// Responder is an emulated camera RTSP server: OPTIONS answers with
// Public, DESCRIBE with a 401 Digest challenge when Realm is set and a tiny
// SDP otherwise.
type Responder struct {
	Server string // "" sends none
	Realm  string
	Public string // default "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"
	Log    *slog.Logger
}

// Responder bounds.
const (
	maxRequestsPerConn = 32
	respIdleTimeout    = 10 * time.Second
)

// Serve answers connections on ln until ctx ends; it returns nil then.
func (r *Responder) Serve(ctx context.Context, ln net.Listener) error {
	return probes.ServeConns(ctx, ln, "rtsp responder", r.Log, r.serveConn)
}

func (r *Responder) serveConn(c net.Conn) error {
	br := bufio.NewReader(io.LimitReader(c, 1<<20))
	for range maxRequestsPerConn {
		_ = c.SetDeadline(time.Now().Add(respIdleTimeout))
		method, cseq, err := readRequest(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var b strings.Builder
		status, extra, body := 200, "", ""
		switch method {
		case "OPTIONS":
			pub := r.Public
			if pub == "" {
				pub = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"
			}
			extra = "Public: " + pub + "\r\n"
		case "DESCRIBE":
			if r.Realm != "" {
				status = 401
				extra = `WWW-Authenticate: Digest realm="` + r.Realm + `", nonce="0a4f113b"` + "\r\n"
			} else {
				body = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=Media Presentation\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
				extra = "Content-Type: application/sdp\r\n"
			}
		default:
			status = 405
		}
		reason := map[int]string{200: "OK", 401: "Unauthorized", 405: "Method Not Allowed"}[status]
		fmt.Fprintf(&b, "RTSP/1.0 %d %s\r\nCSeq: %s\r\n", status, reason, cseq)
		if r.Server != "" {
			b.WriteString("Server: " + r.Server + "\r\n")
		}
		b.WriteString(extra)
		if body != "" {
			b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
		}
		b.WriteString("\r\n" + body)
		if _, err := io.WriteString(c, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// readRequest reads a request line and headers (bounded like a reply head)
// and returns the method and CSeq; a request body is skipped.
func readRequest(br *bufio.Reader) (method, cseq string, err error) {
	budget := httpprobe.MaxHead
	var lines []string
	for {
		l, err := br.ReadString('\n')
		budget -= len(l)
		if budget < 0 {
			return "", "", httpprobe.ErrHeadTooLarge
		}
		if err != nil {
			if len(lines) == 0 && l == "" {
				return "", "", io.EOF
			}
			return "", "", err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			if len(lines) == 0 {
				continue // stray CRLF between requests
			}
			break
		}
		lines = append(lines, l)
	}
	f := strings.Fields(lines[0])
	if len(f) != 3 || !strings.HasPrefix(f[2], "RTSP/1.") {
		return "", "", fmt.Errorf("bad request line %.64q", lines[0])
	}
	n := 0
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "cseq":
			cseq = strings.TrimSpace(v)
		case "content-length":
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if n > 0 && n <= MaxBody {
		if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
			return "", "", err
		}
	}
	// RFC 2326 12.17: CSeq is 1*DIGIT. Anything else (a bare CR, say) would be
	// echoed into our reply's header, so it is replaced rather than trusted.
	if !isDigits(cseq) || len(cseq) > 16 {
		cseq = "0"
	}
	return f[0], cseq, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
