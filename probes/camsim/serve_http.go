package camsim

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	httpprobe "github.com/camwarden/camwarden/probes/http"
)

func init() {
	register("http", service{
		enabled: func(p *Profile) bool { return p.HTTP != nil },
		start: func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
			return serveHTTP(ctx, p, p.HTTP, h, 80, nil, log)
		},
	})
	register("https", service{
		enabled: func(p *Profile) bool { return p.HTTPS != nil },
		start: func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
			cn, org, issuer := p.Model, p.Maker, ""
			if p.TLS != nil {
				cn, org, issuer = p.TLS.CommonName, p.TLS.Organization, p.TLS.Issuer
			}
			cert, err := httpprobe.SelfSignedCert(p.Expand(cn, h.MAC), p.Expand(org, h.MAC), p.Expand(issuer, h.MAC), time.Now())
			if err != nil {
				return err
			}
			// Cameras still offer old protocol versions; the floor is
			// Go's default, which the appliance's prober also uses.
			cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
			return serveHTTP(ctx, p, p.HTTPS, h, 443, cfg, log)
		},
	})
}

// httpHandlers returns extra handlers (e.g. ONVIF SOAP) that other
// responders mount on the web server listening on port; mount.go may set it.
var httpHandlers func(p *Profile, h Host, port int) map[string]http.Handler

// serveHTTP runs the web server described by hp on h; tlsCfg, when set,
// wraps it in TLS.
func serveHTTP(ctx context.Context, p *Profile, hp *HTTPProfile, h Host, defPort int, tlsCfg *tls.Config, log *slog.Logger) error {
	port := hp.Port
	if port == 0 {
		port = defPort
	}
	switch hp.AnyPath {
	case "", "404", "200", "401":
	default:
		// A misspelt mode must not quietly become a 404 server in a lab
		// that meant to test another kind.
		return fmt.Errorf("camsim: profile %s: any_path %q: want 404, 200 or 401", p.Name, hp.AnyPath)
	}
	ln, err := listenTCP(ctx, h, port)
	if err != nil {
		return err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	expand := func(s string) string { return p.Expand(s, h.MAC) }
	r := &httpprobe.Responder{
		Server:       expand(hp.Server),
		Realm:        expand(hp.Realm),
		AuthScheme:   hp.AuthScheme,
		Title:        expand(hp.Title),
		Redirect:     expand(hp.Redirect),
		UpperHeaders: hp.UpperHeaders,
		Headers:      map[string]string{},
		Paths:        hp.Paths,
		Bodies:       map[string]string{},
		AnyPath:      hp.AnyPath,
		Log:          log,
	}
	for k, v := range hp.Headers {
		r.Headers[k] = expand(v)
	}
	for k, v := range hp.Bodies {
		r.Bodies[k] = expand(v)
	}
	if httpHandlers != nil {
		r.Mounts = httpHandlers(p, h, port)
	}
	log.Debug("serving", "addr", ln.Addr(), "tls", tlsCfg != nil)
	return r.Serve(ctx, ln)
}

// listenTCP listens on the host's address (all addresses when it has none)
// at port plus the host's PortOffset.
func listenTCP(ctx context.Context, h Host, port int) (net.Listener, error) {
	addr := ":" + strconv.Itoa(h.Port(port))
	if h.IP.IsValid() {
		addr = netip.AddrPortFrom(h.IP, uint16(h.Port(port))).String()
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}
