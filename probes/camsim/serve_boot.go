package camsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/camwarden/camwarden/probes/arp"
	"github.com/camwarden/camwarden/probes/dhcp"
	"github.com/mdlayher/packet"
)

// The boot service makes an emulated device chatter the way a camera does
// when it powers up: gratuitous ARP for its address (RFC 5227 announcement),
// a DHCP DISCOVER and an INIT-REBOOT REQUEST carrying its hostname (12),
// vendor class (60) and udhcpc's parameter list (55), all broadcast. Some time
// later the announcement and the DISCOVER are repeated, as udhcpc and the
// kernel do. Nothing is answered: there is no DHCP client state machine.
func init() {
	register("boot", service{
		enabled: func(*Profile) bool { return true }, // every device boots
		start:   startBoot,
	})
}

// bootRepeat is how long after the first burst the second one goes out
// (RFC 5227 ANNOUNCE_INTERVAL; udhcpc's default discover timeout is 3 s).
const bootRepeat = 2 * time.Second

func startBoot(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
	if h.Iface == "" {
		// loopback tests: there is no link to broadcast on
		<-ctx.Done()
		return nil
	}
	ifi, err := net.InterfaceByName(h.Iface)
	if err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	if err := onOwnLink(ifi, h); err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	if len(ifi.HardwareAddr) != 6 {
		// Loopback (camsim run --iface lo): no Ethernet to announce on.
		log.Info("boot chatter skipped: interface has no Ethernet address", "iface", h.Iface)
		<-ctx.Done()
		return nil
	}
	mac := h.MAC
	if len(mac) != 6 {
		mac = ifi.HardwareAddr
	}
	// Opened here, on the caller's thread, so the socket belongs to the
	// namespace the device runs in. Protocol 0: send only, nothing queued.
	conn, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		return fmt.Errorf("boot: raw socket on %s: %w", h.Iface, err)
	}
	defer conn.Close()
	frames, err := bootFrames(p, h, mac)
	if err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	send := func(fs [][]byte) error {
		for _, f := range fs {
			if _, err := conn.WriteTo(f, &packet.Addr{HardwareAddr: arp.Broadcast}); err != nil {
				return fmt.Errorf("boot: send on %s: %w", h.Iface, err)
			}
		}
		return nil
	}
	if err := send(frames); err != nil {
		return err
	}
	log.Debug("boot chatter sent", "frames", len(frames))
	t := time.NewTimer(bootRepeat)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	// the repeat: announcement and DISCOVER, not the REQUEST
	var again [][]byte
	if h.IP.Is4() {
		again = append(again, frames[0])
	}
	again = append(again, frames[len(frames)-1])
	if err := send(again); err != nil {
		return err
	}
	if p.DHCPRetry <= 0 {
		<-ctx.Done()
		return nil
	}
	// An unanswered client's retries: the DISCOVER alone, never faster
	// than minDHCPRetry, so a profile cannot make the device flood the link.
	tick := time.NewTicker(max(p.DHCPRetry, minDHCPRetry))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := send(again[len(again)-1:]); err != nil {
				return err
			}
		}
	}
}

// minDHCPRetry is the fastest a profile's dhcp_retry may repeat.
const minDHCPRetry = 200 * time.Millisecond

// onOwnLink refuses to broadcast unless the interface really is the
// device's: it must carry the host's MAC (when given) and its IPv4 address.
// A goroutine that slipped out of the lab namespace would otherwise find the
// machine's real eth0 and chatter on a real network.
func onOwnLink(ifi *net.Interface, h Host) error {
	if len(h.MAC) == 6 && ifi.HardwareAddr.String() != h.MAC.String() {
		return fmt.Errorf("%s has MAC %s, not the device's %s: not the device's link", ifi.Name, ifi.HardwareAddr, h.MAC)
	}
	if !h.IP.Is4() {
		return fmt.Errorf("device has no IPv4 address to check %s against", ifi.Name)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return fmt.Errorf("%s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(h.IP.AsSlice()) {
			return nil
		}
	}
	return fmt.Errorf("%s does not carry the device's address %s: not the device's link", ifi.Name, h.IP)
}

// bootFrames builds the burst: [gratuitous ARP,] REQUEST, DISCOVER — the
// DISCOVER last so the repeat can find it.
func bootFrames(p *Profile, h Host, mac []byte) ([][]byte, error) {
	var out [][]byte
	if h.IP.Is4() {
		g, err := arp.Packet{Op: arp.OpRequest, SenderMAC: mac, SenderIP: h.IP, TargetMAC: make(net.HardwareAddr, 6), TargetIP: h.IP}.Frame(arp.Broadcast)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	c := dhcp.Client{MAC: mac, XID: rand.Uint32(), Hostname: p.Hostname, VendorClass: p.VendorClass}
	if h.IP.Is4() {
		c.RequestedIP = h.IP
	}
	for _, typ := range []byte{dhcp.Request, dhcp.Discover} {
		m, err := c.Message(typ)
		if err != nil {
			return nil, err
		}
		f, err := dhcp.ClientFrame(mac, m)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if len(out) < 2 {
		return nil, errors.New("no frames built")
	}
	return out, nil
}
