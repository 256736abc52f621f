package camsim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"golang.org/x/net/ipv4"

	"github.com/camwarden/camwarden/probes/sadp"
)

func init() {
	register("sadp", service{
		enabled: func(p *Profile) bool { return p.SADP != nil },
		start:   serveSADP,
	})
}

// SADPReply is the ProbeMatch profile p sends from h.
func SADPReply(p *Profile, h Host) sadp.Reply {
	s := p.SADP
	sn := s.DeviceSN
	if sn == "" {
		// Hikvision serials already start with the model; EZVIZ-style short
		// serials get it prepended, as DeviceSN always carries it.
		sn = p.Serial
		if !strings.HasPrefix(sn, p.Model) {
			sn = p.Model + sn
		}
	}
	r := sadp.Reply{
		DeviceType:        s.DeviceType,
		DeviceDescription: p.Expand(s.Description, h.MAC),
		DeviceSN:          sn,
		CommandPort:       "8000",
		HTTPPort:          "80",
		SoftwareVersion:   p.Firmware,
		DSPVersion:        s.DSPVersion,
		Activated:         strconv.FormatBool(s.Activated),
		DetailOEMCode:     s.OEMCode,
	}
	if r.DeviceDescription == "" {
		r.DeviceDescription = p.Model
	}
	if p.HTTP != nil && p.HTTP.Port != 0 {
		r.HTTPPort = strconv.Itoa(p.HTTP.Port)
	}
	if p.HTTPS != nil {
		r.SDKOverTLSPort = "8443"
	}
	if !s.HideMAC && h.MAC != nil {
		r.MAC = strings.ReplaceAll(h.MAC.String(), ":", "-")
	}
	if h.IP.IsValid() {
		r.IPv4Address = h.IP.String()
		r.IPv4SubnetMask = "255.255.255.0"
	}
	if s.HideMAC {
		r.Extra = append(r.Extra, sadp.Element{Name: "SADPVersion", Value: "2"}, sadp.Element{Name: "Encrypt", Value: "true"})
	}
	return r
}

// serveSADP answers inquiries. In the lab (h.Iface set) it joins the group
// on that interface and, as Hikvision firmware does, answers to the group;
// on loopback it answers unicast inquiries on 37020+offset to the asker.
func serveSADP(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
	r := &sadp.Responder{Reply: SADPReply(p, h), Log: log}
	port := h.Port(sadp.Port)
	c, err := listenUDP(h, port, func() (net.PacketConn, error) {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return nil, err
		}
		c, err := sadp.ListenGroup(ifi, sadp.Group, port)
		if err != nil {
			return nil, err
		}
		if err := ipv4.NewPacketConn(c).SetMulticastInterface(ifi); err != nil {
			c.Close()
			return nil, fmt.Errorf("sadp multicast interface %s: %w", h.Iface, err)
		}
		r.ReplyTo = &net.UDPAddr{IP: sadp.Group, Port: port}
		return c, nil
	})
	if err != nil {
		return err
	}
	defer c.Close()
	return r.Serve(ctx, c)
}
