package httpprobe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// VendorPaths are the paths whose status codes tell camera families apart
// (PROTOCOLS.md: Hikvision ISAPI/SDK, Dahua RPC2, Huawei SDCAPI, Axis VAPIX,
// Hanwha SUNAPI, Uniview LAPI). None of them changes device state on GET.
var VendorPaths = []string{
	"/doc/page/login.asp",
	"/ISAPI/System/deviceInfo",
	"/SDK/activateStatus",
	"/RPC2_Login",
	"/SDCAPI/V1.0/",
	"/axis-cgi/basicdeviceinfo.cgi",
	"/stw-cgi/system.cgi",
	"/LAPI/V1.0/System/DeviceInfo",
}

// Prober limits.
const (
	// MaxPaths bounds the requests after GET / and its redirect: the
	// baseline, the favicon and at most MaxPaths-2 vendor paths.
	MaxPaths       = 16
	DefaultTimeout = 3 * time.Second
	maxXMLNS       = 4
)

// DialFunc opens a connection; tests inject one that maps ports.
type DialFunc = probes.DialFunc

// Prober reads one host's web server (plain HTTP, or HTTPS with the
// certificate inspected). Build it with NewHTTP or NewHTTPS.
type Prober struct {
	TLS     bool
	Port    int           // 80 or 443 when 0
	Paths   []string      // vendor paths, VendorPaths when nil; at most MaxPaths-2 are used
	Timeout time.Duration // per request; DefaultTimeout when 0
	Dial    DialFunc      // net.Dialer.DialContext when nil
	Now     func() time.Time
	Log     *slog.Logger
}

// NewHTTP returns the "http" prober for port 80.
func NewHTTP() *Prober { return &Prober{} }

// NewHTTPS returns the "https" prober for port 443; it also emits the
// certificate facts as a "tls" observation.
func NewHTTPS() *Prober { return &Prober{TLS: true} }

// Name is "http" or "https".
func (p *Prober) Name() string {
	if p.TLS {
		return "https"
	}
	return "http"
}

// reply is one bounded response.
type reply struct {
	head Head
	body []byte
	cut  bool // the body was longer than MaxBody or ended early
}

// Probe asks GET / (following at most one redirect on the same host), a
// random path that cannot exist (the baseline), each vendor path and
// /favicon.ico, then emits what it learned, even when a later request
// failed. It returns an error when the server could not be asked at all.
//
// The baseline is what keeps path facts honest: a server that protects its
// whole site answers 401 everywhere, and a single-page interface answers 200
// with the same page everywhere, so only a vendor path whose answer differs
// from the baseline (another status, challenge or kind of document) becomes
// an <prefix>.api fact; the favicon is hashed only when it is not the
// baseline page either.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	prefix := p.Name()
	port := p.Port
	if port == 0 {
		port = 80
		if p.TLS {
			port = 443
		}
	}
	addr := netip.AddrPortFrom(t.IP, uint16(port)).String()
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	var facts []probes.Fact
	add := func(k, v string) {
		if v != "" && len(facts) < probes.MaxFacts {
			facts = append(facts, probes.F(prefix+"."+k, v))
		}
	}
	var certFacts []probes.Fact
	defer func() {
		if len(facts) > 0 {
			emit(probes.Observation{Time: now(), MAC: t.MAC, IP: t.IP, Probe: prefix, Facts: facts})
		}
		if len(certFacts) > 0 {
			emit(probes.Observation{Time: now(), MAC: t.MAC, IP: t.IP, Probe: "tls", Facts: certFacts})
		}
	}()
	onCert := func(c *x509.Certificate) {
		if certFacts == nil {
			certFacts = CertFacts(c)
		}
	}

	realmSeen, caseSeen := false, false
	noteHead := func(h Head) {
		if h.Status == 401 && !realmSeen {
			for _, v := range h.Values("WWW-Authenticate") {
				scheme, realm := ParseAuth(v)
				if realm == "" {
					continue
				}
				add("realm", realm)
				add("auth_scheme", scheme)
				realmSeen = true
				break
			}
		}
		if !caseSeen && h.UpperCase() {
			add("header_case", "upper")
			caseSeen = true
		}
	}

	root, err := p.get(ctx, addr, t.IP, "/", onCert)
	if err != nil {
		return fmt.Errorf("%s: GET / from %s: %w", prefix, addr, err)
	}
	server := root.head.Get("Server")
	add("server", server)
	add("p3p", root.head.Get("P3P"))
	noteHead(root.head)
	page := root
	if root.head.Status >= 300 && root.head.Status < 400 {
		loc := root.head.Get("Location")
		add("redirect", loc)
		if path, ok := sameHost(loc, t.IP, port, p.TLS); ok {
			if r, err := p.get(ctx, addr, t.IP, path, onCert); err == nil {
				page = r
				noteHead(r.head)
				if server == "" {
					add("server", r.head.Get("Server"))
				}
			} else {
				p.log().Debug("follow redirect", "addr", addr, "path", path, "err", err)
			}
		}
	}
	add("title", Title(page.body))

	// A fresh random path per device and port, so no server can learn one
	// path to answer differently.
	var baseline *Answer
	if r, err := p.get(ctx, addr, t.IP, BaselinePath(), onCert); err == nil {
		b := AnswerOf(r.head, r.body)
		baseline = &b
		add("baseline", b.String())
		noteHead(r.head)
	} else {
		// Without a baseline no path answer can be judged, so none is.
		p.log().Debug("baseline", "addr", addr, "err", err)
	}

	paths := p.Paths
	if paths == nil {
		paths = VendorPaths
	}
	if len(paths) > MaxPaths-2 {
		paths = paths[:MaxPaths-2]
	}
	var errs []error
	xmlns := 0
	for _, path := range paths {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		r, err := p.get(ctx, addr, t.IP, path, onCert)
		if err != nil {
			errs = append(errs, fmt.Errorf("GET %s: %w", path, err))
			continue
		}
		add("path", path+" "+strconv.Itoa(r.head.Status))
		noteHead(r.head)
		if baseline != nil {
			if a := AnswerOf(r.head, r.body); a.Counts(*baseline) {
				add("api", path+" "+strconv.Itoa(a.Status)+" "+a.Shape)
			}
		}
		if r.head.Status < 300 && xmlns < maxXMLNS {
			for _, ns := range XMLNamespaces(r.body, maxXMLNS-xmlns) {
				add("xmlns", ns)
				xmlns++
			}
		}
	}
	if baseline != nil && ctx.Err() == nil {
		if r, err := p.get(ctx, addr, t.IP, FaviconPath, onCert); err == nil {
			if icon, ok := faviconOf(r, *baseline); ok {
				add("favicon_mmh3", FaviconMMH3(icon))
				add("favicon_md5", FaviconMD5(icon))
			}
		} else {
			errs = append(errs, fmt.Errorf("GET %s: %w", FaviconPath, err))
		}
	}
	if err := errors.Join(errs...); err != nil && ctx.Err() != nil {
		return fmt.Errorf("%s: %s: %w", prefix, addr, err)
	} else if err != nil {
		// A device that resets one path is still identified by the others.
		p.log().Debug("vendor paths", "addr", addr, "err", err)
	}
	return nil
}

func (p *Prober) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// get performs one GET on a fresh connection, bounded by the per-request
// timeout, ctx, MaxHead and MaxBody.
func (p *Prober) get(ctx context.Context, addr string, host netip.Addr, path string, onCert func(*x509.Certificate)) (reply, error) {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, release, err := probes.DialBounded(ctx, p.Dial, addr)
	if err != nil {
		return reply{}, err
	}
	defer release()
	if p.TLS {
		// We read the certificate to learn who made the device; we never
		// trust it, so verification is off on purpose. Old cameras only
		// speak TLS 1.0.
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10}) //nolint:gosec
		if err := tc.HandshakeContext(ctx); err != nil {
			return reply{}, fmt.Errorf("tls handshake: %w", err)
		}
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			onCert(certs[0])
		}
		conn = tc
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + hostHeader(host, addr) +
		"\r\nUser-Agent: camwarden\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return reply{}, fmt.Errorf("write request: %w", err)
	}
	br := bufio.NewReader(conn)
	head, err := ReadHead(br)
	if err != nil {
		return reply{}, err
	}
	var body io.Reader = br
	want := int64(-1)
	if strings.EqualFold(head.Get("Transfer-Encoding"), "chunked") {
		body = httputil.NewChunkedReader(br)
	} else if n, err := strconv.ParseInt(head.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		body = io.LimitReader(br, n)
		want = n
	}
	b, err := io.ReadAll(io.LimitReader(body, MaxBody))
	cut := err != nil || len(b) == MaxBody || want > int64(len(b))
	if err != nil && len(b) == 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
		// The head is what matters most; a body cut short is still used.
		p.log().Debug("read body", "addr", addr, "path", path, "err", err)
	}
	return reply{head: head, body: b, cut: cut}, nil
}

func hostHeader(host netip.Addr, addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	if port == "80" || port == "443" {
		return host.String()
	}
	return addr
}

// sameHost returns the path to follow when loc points at the same host,
// scheme and port; a redirect elsewhere is reported, never followed.
func sameHost(loc string, host netip.Addr, port int, isTLS bool) (string, bool) {
	if loc == "" || len(loc) > 2048 {
		return "", false
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", false
	}
	if u.Host == "" && u.Scheme == "" {
		if !strings.HasPrefix(u.Path, "/") {
			u.Path = "/" + u.Path
		}
		return u.RequestURI(), true
	}
	scheme := "http"
	if isTLS {
		scheme = "https"
	}
	if !strings.EqualFold(u.Scheme, scheme) {
		return "", false
	}
	h, err := netip.ParseAddr(u.Hostname())
	if err != nil || h.Unmap() != host.Unmap() {
		return "", false
	}
	uport := u.Port()
	if uport == "" {
		uport = map[bool]string{false: "80", true: "443"}[isTLS]
	}
	if uport != strconv.Itoa(port) {
		return "", false
	}
	return u.RequestURI(), true
}

// CertFacts returns the tls.* facts of a device certificate.
func CertFacts(c *x509.Certificate) []probes.Fact {
	facts := []probes.Fact{
		probes.F("tls.subject", c.Subject.String()),
		probes.F("tls.issuer", c.Issuer.String()),
	}
	if len(c.Subject.Organization) > 0 {
		facts = append(facts, probes.F("tls.subject_o", c.Subject.Organization[0]))
	}
	if c.Subject.CommonName != "" {
		facts = append(facts, probes.F("tls.subject_cn", c.Subject.CommonName))
	}
	return facts
}
