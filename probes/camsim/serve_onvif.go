package camsim

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes/onvif"
)

func init() {
	register("onvif", service{
		enabled: func(p *Profile) bool { return p.ONVIF != nil },
		start:   serveONVIF,
	})
	mountHTTP("/onvif/", func(p *Profile, h Host, port int) http.Handler {
		if p.ONVIF == nil || !onvifOnWebServer(p) || onvifPort(p) != port {
			return nil
		}
		return ONVIFHandler(p, h)
	})
}

// onvifPort is the TCP port the profile's ONVIF service answers on.
func onvifPort(p *Profile) int {
	if p.ONVIF != nil && p.ONVIF.Port != 0 {
		return p.ONVIF.Port
	}
	return 80
}

// onvifPath is the device service path.
func onvifPath(p *Profile) string {
	if p.ONVIF != nil && p.ONVIF.Path != "" {
		return p.ONVIF.Path
	}
	return "/onvif/device_service"
}

// onvifOnWebServer says whether ONVIF shares the plain-HTTP web server (the
// usual case on cameras) rather than listening itself.
func onvifOnWebServer(p *Profile) bool {
	if p.HTTP == nil {
		return false
	}
	hp := p.HTTP.Port
	if hp == 0 {
		hp = 80
	}
	return hp == onvifPort(p)
}

// ONVIFHandler is the profile's ONVIF device service as an http.Handler.
func ONVIFHandler(p *Profile, h Host) http.Handler {
	o := p.ONVIF
	model := o.Model
	if model == "" {
		model = p.Model
	}
	var scopes []string
	if p.WSD != nil {
		for _, s := range p.WSD.Scopes {
			scopes = append(scopes, p.Expand(s, h.MAC))
		}
	}
	realm := ""
	if p.HTTP != nil {
		realm = p.Expand(p.HTTP.Realm, h.MAC)
	}
	return &onvif.Device{
		Info: onvif.DeviceInfo{
			Manufacturer:    o.Manufacturer,
			Model:           model,
			FirmwareVersion: p.Firmware,
			SerialNumber:    p.Serial,
			HardwareID:      o.HardwareID,
		},
		MAC:          h.MAC,
		Scopes:       scopes,
		User:         o.User,
		Password:     o.Password,
		Auth:         onvifAuth(o.Auth),
		ClockOffset:  o.ClockOffset,
		Realm:        realm,
		VideoSources: o.VideoSources,
	}
}

func onvifAuth(s string) onvif.AuthMode {
	switch strings.ToLower(s) {
	case "digest":
		return onvif.AuthDigest
	case "none":
		return onvif.AuthNone
	}
	return onvif.AuthWSSE
}

// serveONVIF listens on the ONVIF port when no web server carries it;
// otherwise the web server serves the mount and this only waits.
func serveONVIF(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
	if onvifOnWebServer(p) {
		<-ctx.Done()
		return nil
	}
	ln, err := listenTCP(ctx, h, onvifPort(p))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/onvif/", ONVIFHandler(p, h))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	log.Debug("serving", "addr", ln.Addr(), "path", onvifPath(p))
	if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
