package lab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// ErrUnreachable is returned by Ping when a router answered that the
// destination cannot be reached (e.g. the gateway once the uplink is cut).
var ErrUnreachable = errors.New("destination unreachable")

// Ping sends one ICMP echo request from namespace ns to dst and waits up to
// timeout for the reply. dst must be a lab address (198.18.0.0/15): this is
// a lab tool and must not send anywhere else.
func Ping(ctx context.Context, ns string, dst netip.Addr, timeout time.Duration) (time.Duration, error) {
	if !dst.Is4() || !labRange.Contains(dst) {
		return 0, fmt.Errorf("lab: ping %s: only lab addresses in %s", dst, labRange)
	}
	var c *icmp.PacketConn
	if err := InNS(ns, func() (err error) {
		c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	}); err != nil {
		return 0, fmt.Errorf("lab: ping from %s: %w", ns, err)
	}
	defer c.Close()

	// A raw socket sees every ICMP message of the namespace: the random id
	// keeps concurrent pings apart.
	id, seq := int(rand.N(uint16(0xffff)))+1, 1
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("camwarden-lab")}}
	wb, err := msg.Marshal(nil)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.SetDeadline(deadline); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := c.WriteTo(wb, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return 0, fmt.Errorf("lab: ping %s from %s: %w", dst, ns, err)
	}
	buf := make([]byte, 1500)
	for {
		n, peer, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, ctx.Err()) || ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("lab: ping %s from %s: no reply within %s", dst, ns, timeout)
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil {
			continue
		}
		switch b := m.Body.(type) {
		case *icmp.Echo:
			if m.Type == ipv4.ICMPTypeEchoReply && b.ID == id && b.Seq == seq && peer.String() == dst.String() {
				return time.Since(start), nil
			}
		case *icmp.DstUnreach:
			if quotesEcho(b.Data, dst, id, seq) {
				return 0, fmt.Errorf("lab: ping %s from %s: %w (reported by %s)", dst, ns, ErrUnreachable, peer)
			}
		}
	}
}

// quotesEcho reports whether an ICMP error quotes our echo request: the
// original IPv4 header followed by the first 8 bytes of our ICMP message.
func quotesEcho(data []byte, dst netip.Addr, id, seq int) bool {
	h, err := ipv4.ParseHeader(data)
	if err != nil || len(data) < h.Len+8 {
		return false
	}
	a, ok := netip.AddrFromSlice(h.Dst.To4())
	if !ok || a != dst {
		return false
	}
	e := data[h.Len:]
	return e[0] == byte(ipv4.ICMPTypeEcho) && int(e[4])<<8|int(e[5]) == id && int(e[6])<<8|int(e[7]) == seq
}
