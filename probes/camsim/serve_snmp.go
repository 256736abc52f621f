package camsim

import (
	"context"
	"log/slog"
	"net"
	"net/netip"

	"github.com/camwarden/camwarden/probes/snmp"
)

func init() {
	register("snmp", service{
		enabled: func(p *Profile) bool { return p.SNMP != nil },
		start: func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
			port := p.SNMP.Port
			if port == 0 {
				port = snmp.DefaultPort
			}
			port = h.Port(port)
			c, err := listenUDP(h, port, func() (net.PacketConn, error) {
				// in the lab: the host's own address, so nothing answers on another link
				return net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.IP, uint16(port))))
			})
			if err != nil {
				return err
			}
			defer c.Close()
			r := &snmp.Responder{Community: p.SNMP.Community, SysDescr: p.Expand(p.SNMP.SysDescr, h.MAC),
				SysObjectID: p.SNMP.SysObjectID, Log: log}
			return r.Serve(ctx, c)
		},
	})
}
