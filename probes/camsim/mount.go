package camsim

import "net/http"

// A real camera serves ONVIF SOAP from the same web server as its pages
// (port 80), so a responder that speaks over HTTP does not open its own
// listener when the profile has a web server on its port: it registers a
// mount here and serve_http.go hands requests under the prefix to it.
type mount struct {
	prefix string
	// handler returns what to serve for p on h's web server at port, or
	// nil when this responder does not live on that port.
	handler func(p *Profile, h Host, port int) http.Handler
}

var mounts []mount

// mountHTTP registers a handler for a path prefix on profiles' web servers.
// Called from serve_*.go init functions only.
func mountHTTP(prefix string, handler func(p *Profile, h Host, port int) http.Handler) {
	for _, m := range mounts {
		if m.prefix == prefix {
			panic("camsim: duplicate HTTP mount " + prefix)
		}
	}
	mounts = append(mounts, mount{prefix: prefix, handler: handler})
}

// MountedHTTP returns the handlers mounted on p's web server listening on
// port, keyed by path prefix.
func MountedHTTP(p *Profile, h Host, port int) map[string]http.Handler {
	out := map[string]http.Handler{}
	for _, m := range mounts {
		if hd := m.handler(p, h, port); hd != nil {
			out[m.prefix] = hd
		}
	}
	return out
}

func init() { httpHandlers = MountedHTTP }
