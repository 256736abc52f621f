package camsim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/camwarden/camwarden/probes/mdns"
	"golang.org/x/net/ipv4"
)

func init() {
	register("mdns", service{
		enabled: func(p *Profile) bool { return p.MDNS != nil },
		start: func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
			hostname := p.Hostname
			if hostname == "" {
				hostname = "camsim-" + strings.ReplaceAll(h.MAC.String(), ":", "")
			}
			txt := make([]string, len(p.MDNS.TXT))
			for i, s := range p.MDNS.TXT {
				txt[i] = p.Expand(s, h.MAC)
			}
			r := &mdns.Responder{
				Instance: p.Expand(p.MDNS.Instance, h.MAC),
				Hostname: hostname,
				Services: p.MDNS.Services,
				TXT:      txt,
				IP:       h.IP,
				Log:      log,
			}
			var lc net.ListenConfig
			var pc net.PacketConn
			var err error
			if h.Iface == "" {
				// Loopback test: unicast only, never a multicast send that
				// could leave through the machine's real interface.
				ip := h.IP
				if !ip.IsValid() {
					ip = netip.MustParseAddr("127.0.0.1")
				}
				addr := netip.AddrPortFrom(ip, uint16(h.Port(mdns.Port))).String()
				if pc, err = lc.ListenPacket(ctx, "udp4", addr); err != nil {
					return fmt.Errorf("listen %s: %w", addr, err)
				}
				return r.Serve(ctx, pc)
			}
			ifi, err := net.InterfaceByName(h.Iface)
			if err != nil {
				return fmt.Errorf("interface %s: %w", h.Iface, err)
			}
			addr := fmt.Sprintf("0.0.0.0:%d", h.Port(mdns.Port))
			if pc, err = lc.ListenPacket(ctx, "udp4", addr); err != nil {
				return fmt.Errorf("listen %s: %w", addr, err)
			}
			p4 := ipv4.NewPacketConn(pc)
			group := mdns.Group.Addr().AsSlice()
			if err := p4.JoinGroup(ifi, &net.UDPAddr{IP: group}); err != nil {
				pc.Close()
				return fmt.Errorf("join %s on %s: %w", mdns.Group.Addr(), h.Iface, err)
			}
			_ = p4.SetMulticastInterface(ifi)
			_ = p4.SetMulticastTTL(255)
			r.Announce = mdns.Group
			return r.Serve(ctx, pc)
		},
	})
}
