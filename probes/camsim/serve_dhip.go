package camsim

import (
	"context"
	"log/slog"
	"net"
	"strconv"

	"github.com/camwarden/camwarden/probes/dhip"
)

func init() {
	register("dhip", service{
		enabled: func(p *Profile) bool { return p.DHIP != nil },
		start:   serveDHIP,
	})
}

// DHIPReply is the client.notifyDevInfo profile p sends from h.
func DHIPReply(p *Profile, h Host) dhip.Reply {
	r := dhip.Reply{
		DeviceClass:  p.DHIP.DeviceClass,
		DeviceType:   p.Model,
		SerialNo:     p.Serial,
		Version:      p.Firmware,
		Vendor:       p.DHIP.Vendor,
		Manufacturer: p.DHIP.Manufacturer,
		MachineName:  p.Serial, // Dahua's default device name is its serial
		HTTPPort:     "80",
		Port:         "37777",
	}
	if p.HTTP != nil && p.HTTP.Port != 0 {
		r.HTTPPort = strconv.Itoa(p.HTTP.Port)
	}
	if h.MAC != nil {
		r.MAC = h.MAC.String()
	}
	if h.IP.IsValid() {
		r.IPv4Address = h.IP.String()
	}
	return r
}

// serveDHIP answers searches to the asker. In the lab it joins
// 239.255.255.251 on h.Iface (the socket also receives unicast searches);
// on loopback it listens on 37810+offset.
func serveDHIP(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
	r := &dhip.Responder{Reply: DHIPReply(p, h), Log: log}
	port := h.Port(dhip.Port)
	c, err := listenUDP(h, port, func() (net.PacketConn, error) {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return nil, err
		}
		return dhip.ListenGroup(ifi, dhip.Group, port)
	})
	if err != nil {
		return err
	}
	defer c.Close()
	return r.Serve(ctx, c)
}
