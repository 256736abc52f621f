package udpdisc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/camwarden/camwarden/probes"
)

// MaxDatagrams bounds how many datagrams one Collect reads, whatever the
// link sends: a flood ends the run early instead of keeping it busy.
const MaxDatagrams = 4096

// maxDatagrams is MaxDatagrams, lowered by tests.
var maxDatagrams = MaxDatagrams

// ListenPort opens a UDP socket on 0.0.0.0:port with address reuse, so it
// shares the port with other listeners on the host and receives what is
// broadcast to it.
func ListenPort(port int) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: reuseAddr}
	c, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		return nil, fmt.Errorf("listen on port %d: %w", port, err)
	}
	return c, nil
}

// ListenGroup opens a UDP socket on port with address reuse, joined to
// group on ifi. With ifi nil the kernel picks the interface.
func ListenGroup(ifi *net.Interface, group net.IP, port int) (net.PacketConn, error) {
	c, err := ListenPort(port)
	if err != nil {
		return nil, err
	}
	p := ipv4.NewPacketConn(c)
	if err := p.JoinGroup(ifi, &net.UDPAddr{IP: group}); err != nil {
		c.Close()
		return nil, fmt.Errorf("join %s: %w", group, err)
	}
	return c, nil
}

// ListenSend opens the socket a discoverer sends from: an ephemeral port on
// the link's own address, multicast leaving through the link's interface
// with TTL 1, so requests stay on the link.
func ListenSend(l probes.Link) (net.PacketConn, error) {
	laddr := &net.UDPAddr{}
	if l.Addr.IsValid() {
		laddr.IP = net.IP(l.Addr.AsSlice())
	}
	c, err := net.ListenUDP("udp4", laddr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if l.Iface != nil {
		p := ipv4.NewPacketConn(c)
		if err := p.SetMulticastInterface(l.Iface); err != nil {
			c.Close()
			return nil, fmt.Errorf("multicast interface %s: %w", l.Iface.Name, err)
		}
		_ = p.SetMulticastTTL(1)
	}
	return c, nil
}

// Collect reads datagrams from every conn until ctx ends, calling handle for
// each (serialised) with the source address unmapped to IPv4. Payloads
// longer than probes.MaxPayload are passed cut to that size with oversize
// set, so the handler can reject them. At most MaxDatagrams are handled:
// past that the run ends for every conn. It closes nothing: the caller owns
// the conns.
//
// A socket that reports a refusal (ICMP port unreachable: connected
// sockets, and ListenAsk's) stops being read, and refused, when given, is
// called (serialised with handle): give it only for a socket that asked
// one host, whose refusal ends the run.
func Collect(ctx context.Context, conns []net.PacketConn, handle func(src netip.AddrPort, b []byte, oversize bool), refused ...func()) {
	ctx, over := context.WithCancel(ctx)
	defer over()
	var (
		mu    sync.Mutex
		count int
		wg    sync.WaitGroup
	)
	// Deadlines are set here once, before the AfterFunc that cuts them
	// short: a reader setting its own could undo the cut and sleep on until
	// the deadline after the run had ended.
	if dl, ok := ctx.Deadline(); ok {
		for _, c := range conns {
			_ = c.SetReadDeadline(dl)
		}
	}
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
				n, from, err := c.ReadFrom(buf)
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() || ctx.Err() != nil {
						return
					}
					if errors.Is(err, net.ErrClosed) {
						return
					}
					if errors.Is(err, syscall.ECONNREFUSED) {
						mu.Lock()
						for _, f := range refused {
							f()
						}
						mu.Unlock()
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
					over() // a flood: the run is over for every reader
					return
				}
				handle(ap, buf[:min(n, probes.MaxPayload)], n > probes.MaxPayload)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// ListenAsk opens an unconnected IPv4 socket for asking one host: answers
// from any source port are read, and an ICMP port unreachable from the
// host is reported by a read (or the next send) as syscall.ECONNREFUSED
// (IP_RECVERR, on Linux), so Collect's refused hook can end the run.
func ListenAsk() (net.PacketConn, error) {
	lc := net.ListenConfig{Control: recvErr}
	return lc.ListenPacket(context.Background(), "udp4", ":0")
}

// Datagram is one request and where it goes.
type Datagram struct {
	To  net.Addr
	Msg []byte
}

// SendRounds sends every datagram of ds, in order, sends times, interval
// apart. Nothing is sent once ctx has ended, since no answer would be read.
// It returns the first send error with the destination it was sent to;
// syscall.ECONNREFUSED (a socket from ListenAsk, whose host refused an
// earlier datagram) ends it at once.
func SendRounds(ctx context.Context, c net.PacketConn, sends int, interval time.Duration, ds ...Datagram) (net.Addr, error) {
	var (
		firstTo  net.Addr
		firstErr error
	)
	for i := 0; i < sends && ctx.Err() == nil; i++ {
		if i > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return firstTo, firstErr
			case <-t.C:
			}
		}
		for _, d := range ds {
			_, err := c.WriteTo(d.Msg, d.To)
			if errors.Is(err, syscall.ECONNREFUSED) {
				return d.To, err // the host refused an earlier one: no use going on
			}
			if err != nil && firstErr == nil {
				firstTo, firstErr = d.To, err
			}
		}
	}
	return firstTo, firstErr
}

// InSubnets is probes.InSubnets as the collector's filter: nil (no
// filter) when there are no subnets, by that function's empty-list rule.
func InSubnets(subnets []netip.Prefix) func(netip.Addr) bool {
	if len(subnets) == 0 {
		return nil
	}
	return func(a netip.Addr) bool { return probes.InSubnets(a, subnets) }
}

// OrDefault is d, or def when d is not positive.
func OrDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// MaxSends caps request rounds whatever the configuration says.
const MaxSends = 10

// Sends is n, or def when n is not positive, capped at MaxSends.
func Sends(n, def int) int {
	if n <= 0 {
		return def
	}
	return min(n, MaxSends)
}
