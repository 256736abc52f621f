package camsim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/camwarden/camwarden/probes/wsd"
)

func init() {
	register("wsd", service{
		enabled: func(p *Profile) bool { return p.WSD != nil },
		start:   serveWSD,
	})
}

// WSDTarget is what the profile announces over WS-Discovery on h.
func WSDTarget(p *Profile, h Host) wsd.Target {
	w := p.WSD
	t := wsd.Target{Address: p.Expand(w.Endpoint, h.MAC), Types: w.Types, MetadataVersion: 1}
	for _, s := range w.Scopes {
		t.Scopes = append(t.Scopes, p.Expand(s, h.MAC))
	}
	if p.ONVIF != nil && h.IP.IsValid() {
		host := h.IP.String()
		if port := h.Port(onvifPort(p)); port != 80 {
			host = net.JoinHostPort(host, strconv.Itoa(port))
		}
		t.XAddrs = []string{"http://" + host + onvifPath(p)}
	}
	return t
}

// serveWSD answers Probes. In the lab (h.Iface set) it joins the discovery
// group on that interface, announces itself with a Hello and leaves with a
// Bye; on loopback it answers unicast Probes on 3702+offset.
func serveWSD(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
	r := &wsd.Responder{
		Target:   WSDTarget(p, h),
		OnlyNVT:  p.WSD.OnlyNVT,
		Twice:    p.WSD.Twice,
		MaxDelay: 100 * time.Millisecond,
		Log:      log,
	}
	if p.WSD.EphemeralReply {
		r.ReplyFrom = func() (net.PacketConn, error) {
			var a netip.Addr
			if h.IP.IsValid() {
				a = h.IP
			} else {
				a = netip.IPv4Unspecified()
			}
			return net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
		}
	}
	port := h.Port(wsd.Port)
	var group *net.UDPAddr
	c, err := listenUDP(h, port, func() (net.PacketConn, error) {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return nil, err
		}
		// Multicast is delivered to sockets bound to the wildcard address, not
		// to the host's unicast address.
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
		if err != nil {
			return nil, fmt.Errorf("listen udp :%d: %w", port, err)
		}
		pc := ipv4.NewPacketConn(c)
		g := &net.UDPAddr{IP: net.ParseIP(wsd.Group), Port: port}
		if err := pc.JoinGroup(ifi, &net.UDPAddr{IP: g.IP}); err != nil {
			c.Close()
			return nil, fmt.Errorf("join %s on %s: %w", wsd.Group, h.Iface, err)
		}
		_ = pc.SetMulticastInterface(ifi)
		_ = pc.SetMulticastTTL(1)
		group = g
		return c, nil
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if group == nil {
		// Loopback: no Hello or Bye, which would be multicast.
		return r.Serve(ctx, c)
	}
	if err := r.Hello(c, group); err != nil {
		log.Warn("wsd: hello", "err", err)
	}
	err = r.Serve(ctx, c)
	if err := r.Bye(c, group); err != nil {
		log.Debug("wsd: bye", "err", err)
	}
	return err
}
