package camsim

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/camwarden/camwarden/probes/ssdp"
)

func init() {
	register("ssdp", service{
		enabled: func(p *Profile) bool { return p.SSDP != nil },
		start:   serveSSDP,
	})
}

func ssdpPort(p *Profile) int {
	if p.SSDP.Port != 0 {
		return p.SSDP.Port
	}
	return 49152
}

// SSDPResponder is the UPnP root device profile p shows on h.
func SSDPResponder(p *Profile, h Host) *ssdp.Responder {
	s := p.SSDP
	ip := h.IP
	if !ip.IsValid() {
		ip = netip.MustParseAddr("127.0.0.1")
	}
	mac := strings.ReplaceAll(h.MAC.String(), ":", "")
	for len(mac) < 12 {
		mac += "0"
	}
	uuid := "c4a3f1e0-5c2d-4e6b-8a9f-" + mac
	expand := func(v string) string { return p.Expand(v, h.MAC) }
	return &ssdp.Responder{
		UUID:     uuid,
		Server:   expand(s.Server),
		Location: "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(h.Port(ssdpPort(p)))) + "/description.xml",
		Description: ssdp.Description{Device: ssdp.Device{
			DeviceType:   expand(s.DeviceType),
			FriendlyName: expand(s.FriendlyName),
			Manufacturer: expand(s.Manufacturer),
			ModelName:    expand(s.ModelName),
			ModelNumber:  expand(s.ModelNumber),
			SerialNumber: p.Serial,
			UDN:          "uuid:" + uuid,
		}},
	}
}

// serveSSDP answers M-SEARCH and serves the description over HTTP. In the
// lab it joins 239.255.255.250 on h.Iface and announces itself with NOTIFY
// ssdp:alive; on loopback it answers unicast searches on 1900+offset.
func serveSSDP(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
	r := SSDPResponder(p, h)
	r.Log = log
	port := h.Port(ssdp.Port)
	c, err := listenUDP(h, port, func() (net.PacketConn, error) {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return nil, err
		}
		c, err := ssdp.ListenGroup(ifi, ssdp.Group, port)
		if err != nil {
			return nil, err
		}
		r.NotifyTo = &net.UDPAddr{IP: ssdp.Group, Port: port}
		return c, nil
	})
	if err != nil {
		return err
	}
	defer c.Close()
	ln, err := listenTCP(ctx, h, ssdpPort(p))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		defer srv.Close()
		return r.Serve(gctx, c)
	})
	return g.Wait()
}
