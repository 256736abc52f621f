package httpprobe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// Responder limits: an emulated device must not be made to buffer without
// bound by a misbehaving client either.
const (
	maxRequestBytes  = 1 << 20 // request line, headers and body of one request
	maxResponseBytes = 1 << 20 // what a mounted handler may write
	connIdleTimeout  = 10 * time.Second
)

// Responder is an emulated camera web server. It answers with a fixed
// banner made from its fields; it writes responses itself rather than
// through net/http because some devices (Dahua) send header names in upper
// case, which net/http would canonicalise.
type Responder struct {
	Server string // Server header; "" sends none
	// Realm, when set, makes 401 paths answer with
	// WWW-Authenticate: <AuthScheme> realm="<Realm>".
	Realm        string
	AuthScheme   string            // "Digest" (default) or "Basic"
	Title        string            // <title> of GET /
	Redirect     string            // GET / answers 302 to this when set
	UpperHeaders bool              // write header names upper-case
	Headers      map[string]string // extra headers on every answer
	Paths        map[string]int    // path -> status
	Bodies       map[string]string // path -> body
	// AnyPath is how the server answers paths it does not serve, as real
	// web servers differ: "" or "404" sends 404 (the default); "200" sends
	// the root page with 200, as single-page interfaces do; "401" protects
	// the whole site, answering every path, "/" and configured paths
	// alike, with the same 401 and challenge (Realm, Digest unless
	// AuthScheme says Basic) and a login page carrying Title; mounts keep
	// their own authentication. Other values behave as "404".
	AnyPath string
	// Mounts hands every request whose path starts with a key to that
	// handler (e.g. ONVIF SOAP at /onvif/); its answer still goes out with
	// this responder's header style and Server header.
	Mounts map[string]http.Handler
	Log    *slog.Logger
}

// Serve answers connections on ln until ctx ends, then closes ln and waits
// for open connections to finish. It returns nil when ctx ended it.
func (r *Responder) Serve(ctx context.Context, ln net.Listener) error {
	return probes.ServeConns(ctx, ln, "http responder", r.Log, r.serveConn)
}

func (r *Responder) serveConn(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(connIdleTimeout))
	// One request per connection (Connection: close) keeps the emulation
	// simple and is what many embedded servers do; the limit bounds the
	// request line, headers and body together.
	br := bufio.NewReader(&io.LimitedReader{R: c, N: maxRequestBytes})
	req, err := http.ReadRequest(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("read request: %w", err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.RemoteAddr = c.RemoteAddr().String()
	if _, err := c.Write(r.respond(req)); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

// response is what respond builds before it is serialised.
type response struct {
	status int
	header [][2]string
	body   []byte
}

func (r *Responder) respond(req *http.Request) []byte {
	path := req.URL.Path
	var resp response
	h, mounted := r.mount(path)
	switch {
	case mounted:
		// Behind a whole-site login a mounted service (ONVIF) applies its
		// own authentication with its own nonces, as a device's ONVIF
		// service does: it must answer GetSystemDateAndTime before login.
		resp = runHandler(h, req)
	case r.AnyPath == "401":
		resp = r.challenge()
	default:
		resp = r.banner(path)
	}
	return r.serialise(req, resp)
}

func (r *Responder) mount(path string) (http.Handler, bool) {
	best := ""
	for prefix := range r.Mounts {
		if strings.HasPrefix(path, prefix) && len(prefix) > len(best) {
			best = prefix
		}
	}
	if best == "" {
		return nil, false
	}
	return r.Mounts[best], true
}

func (r *Responder) banner(path string) response {
	if path == "/" {
		if r.Redirect != "" {
			return response{status: http.StatusFound, header: [][2]string{{"Location", r.Redirect}, {"Content-Type", "text/html"}}}
		}
		status := http.StatusOK
		if s, ok := r.Paths["/"]; ok {
			status = s
		}
		resp := r.rootPage()
		resp.status = status
		return r.withAuth(status, resp)
	}
	status, ok := r.Paths[path]
	if !ok && r.AnyPath == "200" {
		return r.rootPage()
	}
	if !ok {
		return response{status: http.StatusNotFound, body: []byte("<html><body>404 Not Found</body></html>"), header: [][2]string{{"Content-Type", "text/html"}}}
	}
	body, ok := r.Bodies[path]
	if !ok {
		body = "<html><body>" + strconv.Itoa(status) + " " + http.StatusText(status) + "</body></html>"
	}
	return r.withAuth(status, response{status: status, body: []byte(body), header: [][2]string{{"Content-Type", contentType(body)}}})
}

// rootPage is the front page with 200, also what AnyPath "200" sends for
// every path the server does not serve.
func (r *Responder) rootPage() response {
	body := r.Bodies["/"]
	if body == "" {
		body = "<html><head><title>" + htmlEscape(r.Title) + "</title></head><body></body></html>"
	}
	return response{status: http.StatusOK, body: []byte(body), header: [][2]string{{"Content-Type", "text/html"}}}
}

// challenge is AnyPath "401"'s answer to every path: one fixed page, so
// nothing but the path tells two answers apart.
func (r *Responder) challenge() response {
	// The login page keeps the product's title, as many devices' do.
	title := r.Title
	if title == "" {
		title = "401 Unauthorized"
	}
	resp := response{
		status: http.StatusUnauthorized,
		body:   []byte("<html><head><title>" + htmlEscape(title) + "</title></head><body>401 Unauthorized</body></html>"),
		header: [][2]string{{"Content-Type", "text/html"}},
	}
	return r.withAuthRealm(resp, r.Realm)
}

func (r *Responder) withAuth(status int, resp response) response {
	if status != http.StatusUnauthorized || r.Realm == "" {
		return resp
	}
	return r.withAuthRealm(resp, r.Realm)
}

func (r *Responder) withAuthRealm(resp response, realm string) response {
	scheme := r.AuthScheme
	if scheme == "" {
		scheme = "Digest"
	}
	v := scheme + ` realm="` + realm + `"`
	if strings.EqualFold(scheme, "Digest") {
		v += `, qop="auth", nonce="4e6a5a6b4d6a4130", opaque="", stale="FALSE"`
	}
	resp.header = append(resp.header, [2]string{"WWW-Authenticate", v})
	return resp
}

func (r *Responder) serialise(req *http.Request, resp response) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", resp.status, http.StatusText(resp.status))
	name := func(s string) string {
		if r.UpperHeaders {
			return strings.ToUpper(s)
		}
		return s
	}
	hdr := func(k, v string) {
		// Values come from profiles or handlers; strip CR/LF so nothing can
		// split the header block.
		v = strings.NewReplacer("\r", "", "\n", "").Replace(v)
		b.WriteString(name(k) + ": " + v + "\r\n")
	}
	if r.Server != "" {
		hdr("Server", r.Server)
	}
	for _, kv := range resp.header {
		hdr(kv[0], kv[1])
	}
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		hdr(k, r.Headers[k])
	}
	hdr("Content-Length", strconv.Itoa(len(resp.body)))
	hdr("Connection", "close")
	b.WriteString("\r\n")
	if req.Method != http.MethodHead {
		b.Write(resp.body)
	}
	return b.Bytes()
}

func contentType(body string) string {
	s := strings.TrimSpace(body)
	switch {
	case strings.HasPrefix(s, "<?xml"):
		return "application/xml"
	case strings.HasPrefix(s, "{"):
		return "application/json"
	default:
		return "text/html"
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// bufferWriter is the http.ResponseWriter a mounted handler writes into;
// the responder then serialises it in its own header style.
type bufferWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
	over   bool
}

func (w *bufferWriter) Header() http.Header { return w.h }
func (w *bufferWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *bufferWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len()+len(p) > maxResponseBytes {
		w.over = true
		return 0, errors.New("http responder: handler response too large")
	}
	return w.body.Write(p)
}

func runHandler(h http.Handler, req *http.Request) response {
	w := &bufferWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.over {
		return response{status: http.StatusInternalServerError}
	}
	var hdr [][2]string
	keys := make([]string, 0, len(w.h))
	for k := range w.h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Connection") {
			continue
		}
		for _, v := range w.h[k] {
			hdr = append(hdr, [2]string{k, v})
		}
	}
	return response{status: w.status, header: hdr, body: w.body.Bytes()}
}
