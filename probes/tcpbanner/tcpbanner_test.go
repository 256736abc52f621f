package tcpbanner_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/probetest"
	"github.com/camwarden/camwarden/probes/tcpbanner"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func facts(t *testing.T, p *tcpbanner.Prober) map[string]string {
	t.Helper()
	return probetest.Probe(t, p, probes.Target{IP: loopback})
}

func TestProbeCamsimProfiles(t *testing.T) {
	ps, err := camsim.Profiles()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range ps {
		if len(p.TCP) == 0 {
			continue
		}
		n++
		t.Run(p.Name, func(t *testing.T) {
			// Free ports for each banner, mapped back by the dialer so facts
			// carry the real port numbers.
			only := camsim.Profile{Name: p.Name}
			portMap := map[int]int{}
			for _, b := range p.TCP {
				free := probetest.FreePort(t)
				portMap[b.Port] = free
				only.TCP = append(only.TCP, camsim.TCPBanner{Port: free, Reply: b.Reply})
			}
			stop := camsim.Start(only, camsim.Host{IP: loopback}, nil)
			defer func() {
				if err := stop(); err != nil {
					t.Error(err)
				}
			}()
			pr := &tcpbanner.Prober{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, _ := net.SplitHostPort(addr)
				pn, _ := strconv.Atoi(port)
				m, ok := portMap[pn]
				if !ok {
					return nil, fmt.Errorf("test: port %d not emulated", pn)
				}
				var d net.Dialer
				for { // wait for the responder to listen
					c, err := d.DialContext(ctx, network, net.JoinHostPort(host, strconv.Itoa(m)))
					if err == nil || ctx.Err() != nil {
						return c, err
					}
					time.Sleep(10 * time.Millisecond)
				}
			}}
			start := time.Now()
			got := facts(t, pr)
			for _, b := range p.TCP {
				if got["tcp."+strconv.Itoa(b.Port)] != b.Reply {
					t.Errorf("tcp.%d = %q, want %q", b.Port, got["tcp."+strconv.Itoa(b.Port)], b.Reply)
				}
			}
			if len(got) != len(p.TCP) {
				t.Errorf("facts %v, want %d", got, len(p.TCP))
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	if n < 2 {
		t.Fatalf("only %d profiles with tcp banners", n)
	}
}

func TestProbeSilentSlowOversizedPieces(t *testing.T) {
	silent := probetest.ServeTCP(t, func(c net.Conn) { time.Sleep(3 * time.Second) })
	huge := probetest.ServeTCP(t, func(c net.Conn) {
		c.Read(make([]byte, 64))
		for range 1000 {
			if _, err := c.Write(make([]byte, 1024)); err != nil {
				return
			}
		}
	})
	pieces := probetest.ServeTCP(t, func(c net.Conn) {
		c.Read(make([]byte, 64))
		c.Write([]byte{0xf4, 0x00})
		time.Sleep(20 * time.Millisecond)
		c.Write([]byte{0x00, 0x00})
		time.Sleep(3 * time.Second) // keeps the connection open like a device
	})
	closed := probetest.FreePort(t)
	start := time.Now()
	got := facts(t, &tcpbanner.Prober{Ports: []int{silent, huge, pieces, closed}, Timeout: 300 * time.Millisecond})
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("took %v", d)
	}
	want := map[string]string{
		fmt.Sprintf("tcp.%d", huge):   strings.Repeat("00", tcpbanner.MaxReply),
		fmt.Sprintf("tcp.%d", pieces): "f4000000",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("facts = %v, want %v", got, want)
	}
}

func TestProbeContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := (&tcpbanner.Prober{}).Probe(ctx, probes.Target{IP: loopback}, func(probes.Observation) {})
	if err == nil {
		t.Fatal("want ctx error")
	}
}
