package camsim

import (
	"context"
	"log/slog"
	"net"
	"net/netip"

	"github.com/camwarden/camwarden/probes/dvrip"
)

func init() {
	register("dvrip", service{
		enabled: func(p *Profile) bool { return p.DVRIP },
		start:   serveDVRIP,
	})
}

// DVRIPReply is the discovery reply profile p sends from h.
func DVRIPReply(p *Profile, h Host) dvrip.Reply {
	r := dvrip.Reply{DeviceType: p.Model, Model: p.Model}
	if h.MAC != nil {
		r.MAC = h.MAC.String()
	}
	if h.IP.Is4() {
		r.IP = h.IP
		r.Mask = netip.AddrFrom4([4]byte{255, 255, 255, 0})
	}
	if p.Serial != "" {
		r.Values = append(r.Values, dvrip.KV{Key: "SerialNo", Value: p.Serial})
	}
	return r
}

// serveDVRIP answers searches to the asker. In the lab it binds the wildcard
// address so broadcasts reach it; on loopback it listens on 5050+offset.
func serveDVRIP(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
	r := &dvrip.Responder{Reply: DVRIPReply(p, h), Log: log}
	port := h.Port(dvrip.Port)
	c, err := listenUDP(h, port, func() (net.PacketConn, error) { return dvrip.ListenPort(port) })
	if err != nil {
		return err
	}
	defer c.Close()
	return r.Serve(ctx, c)
}
