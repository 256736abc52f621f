package ssdp

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// Responder emulates a UPnP root device: it answers M-SEARCH, announces
// itself with NOTIFY ssdp:alive when it starts, and (as an http.Handler)
// serves its description document at the path of Location.
type Responder struct {
	UUID        string // without the "uuid:" prefix
	Server      string // SERVER header
	Location    string // URL of the description, served by ServeHTTP
	Description Description
	// NotifyTo, when set, is where the start-up NOTIFYs go (the group).
	NotifyTo net.Addr
	Log      *slog.Logger
}

// targets lists (NT/ST, USN) pairs of a root device, as UDA 1.1 lists them.
func (r *Responder) targets() [][2]string {
	udn := "uuid:" + r.UUID
	t := [][2]string{{STRoot, udn + "::" + STRoot}, {udn, udn}}
	if dt := r.Description.Device.DeviceType; dt != "" {
		t = append(t, [2]string{dt, udn + "::" + dt})
	}
	return t
}

// Serve answers M-SEARCH on conn until ctx ends. It never closes conn.
func (r *Responder) Serve(ctx context.Context, conn net.PacketConn) error {
	log := udpdisc.Logger(r.Log)
	if r.NotifyTo != nil {
		for _, t := range r.targets() {
			if _, err := conn.WriteTo(BuildNotify(t[0], "ssdp:alive", t[1], r.Location, r.Server), r.NotifyTo); err != nil {
				log.Debug("ssdp responder: notify", "err", err)
			}
		}
	}
	return udpdisc.Serve(ctx, conn, MaxMessage+1, func(b []byte, from net.Addr) {
		if len(b) > MaxMessage {
			return
		}
		m, err := Parse(b)
		if err != nil || m.Kind != KindMSearch || trimST(m.MAN) != `"ssdp:discover"` {
			return
		}
		st := trimST(m.ST)
		for _, t := range r.targets() {
			if st == STAll || strings.EqualFold(st, t[0]) {
				if _, err := conn.WriteTo(BuildResponse(t[0], t[1], r.Location, r.Server), from); err != nil {
					log.Debug("ssdp responder: answer", "to", from, "err", err)
				}
			}
		}
	})
}

// ServeHTTP serves the description document at Location's path.
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := "/"
	if u, err := url.Parse(r.Location); err == nil && u.Path != "" {
		path = u.Path
	}
	if req.Method != http.MethodGet || req.URL.Path != path {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", `text/xml; charset="utf-8"`)
	if r.Server != "" {
		w.Header().Set("Server", r.Server)
	}
	_, _ = w.Write(r.Description.Marshal())
}
