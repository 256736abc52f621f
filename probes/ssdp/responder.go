package ssdp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
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
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if r.NotifyTo != nil {
		for _, t := range r.targets() {
			if _, err := conn.WriteTo(BuildNotify(t[0], "ssdp:alive", t[1], r.Location, r.Server), r.NotifyTo); err != nil {
				log.Debug("ssdp responder: notify", "err", err)
			}
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, MaxMessage+1)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if n > MaxMessage {
			continue
		}
		m, err := Parse(buf[:n])
		if err != nil || m.Kind != KindMSearch || trimST(m.MAN) != `"ssdp:discover"` {
			continue
		}
		st := trimST(m.ST)
		for _, t := range r.targets() {
			if st == STAll || strings.EqualFold(st, t[0]) {
				if _, err := conn.WriteTo(BuildResponse(t[0], t[1], r.Location, r.Server), from); err != nil {
					log.Debug("ssdp responder: answer", "to", from, "err", err)
				}
			}
		}
	}
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
