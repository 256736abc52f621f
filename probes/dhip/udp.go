package dhip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/camwarden/camwarden/probes"
)

// maxDatagrams bounds how many datagrams one discovery run reads, whatever
// the link sends: a flood ends the run early instead of keeping it busy.
const maxDatagrams = 4096

// ListenGroup opens a UDP socket on port with address reuse (several
// listeners may share the port on one host), joined to group on ifi. With
// ifi nil the kernel picks the interface.
func ListenGroup(ifi *net.Interface, group net.IP, port int) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: reuseAddr}
	c, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		return nil, fmt.Errorf("dhip: listen on port %d: %w", port, err)
	}
	p := ipv4.NewPacketConn(c)
	if err := p.JoinGroup(ifi, &net.UDPAddr{IP: group}); err != nil {
		c.Close()
		return nil, fmt.Errorf("dhip: join %s: %w", group, err)
	}
	return c, nil
}

// listenSend opens the socket a prober sends from: an ephemeral port on the
// link's own address, multicast leaving through the link's interface.
func listenSend(l probes.Link) (net.PacketConn, error) {
	laddr := &net.UDPAddr{}
	if l.Addr.IsValid() {
		laddr.IP = net.IP(l.Addr.AsSlice())
	}
	c, err := net.ListenUDP("udp4", laddr)
	if err != nil {
		return nil, fmt.Errorf("dhip: listen: %w", err)
	}
	if l.Iface != nil {
		p := ipv4.NewPacketConn(c)
		if err := p.SetMulticastInterface(l.Iface); err != nil {
			c.Close()
			return nil, fmt.Errorf("dhip: multicast interface %s: %w", l.Iface.Name, err)
		}
		_ = p.SetMulticastTTL(1)
	}
	return c, nil
}

// collect reads datagrams from every conn until ctx ends, calling handle for
// each (serialised). Payloads longer than probes.MaxPayload are passed
// truncated with oversize set, so the handler can reject them. It closes
// nothing: the caller owns the conns.
func collect(ctx context.Context, conns []net.PacketConn, handle func(src netip.AddrPort, b []byte, oversize bool)) {
	var (
		mu    sync.Mutex
		count int
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Now())
		}
	})
	defer stop()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, probes.MaxPayload+1)
			for ctx.Err() == nil {
				if dl, ok := ctx.Deadline(); ok {
					_ = c.SetReadDeadline(dl)
				}
				n, from, err := c.ReadFrom(buf)
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() || ctx.Err() != nil {
						return
					}
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue // ICMP-induced errors on unconnected sockets: keep reading
				}
				ua, ok := from.(*net.UDPAddr)
				if !ok {
					continue
				}
				ap := ua.AddrPort()
				ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
				mu.Lock()
				count++
				if count > maxDatagrams {
					mu.Unlock()
					return
				}
				handle(ap, buf[:min(n, probes.MaxPayload)], n > probes.MaxPayload)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// sendRounds sends msg to dst sends times, interval apart, stopping early
// when ctx ends: nothing is sent once the run is over, since no answer
// would be read. It returns the first send error.
func sendRounds(ctx context.Context, c net.PacketConn, dst net.Addr, msg []byte, sends int, interval time.Duration) error {
	var first error
	for i := 0; i < sends && ctx.Err() == nil; i++ {
		if i > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return first
			case <-t.C:
			}
		}
		if _, err := c.WriteTo(msg, dst); err != nil && first == nil {
			first = err
		}
	}
	return first
}
