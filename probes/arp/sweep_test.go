package arp_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/arp"
)

// fakeLink answers ARP requests for the addresses in hosts, like the hosts'
// kernels would, and records every request.
type fakeLink struct {
	hosts map[netip.Addr]net.HardwareAddr
	// deaf hosts lose the first request they are sent (a busy camera, a
	// full queue somewhere) and answer from the second on.
	deaf     map[netip.Addr]bool
	heard    map[netip.Addr]int
	mu       sync.Mutex
	asked    []netip.Addr
	replies  chan []byte
	deadline chan struct{}
	once     sync.Once
}

func newFakeLink(hosts map[netip.Addr]net.HardwareAddr) *fakeLink {
	return &fakeLink{hosts: hosts, replies: make(chan []byte, 1024), deadline: make(chan struct{})}
}

func (f *fakeLink) WriteFrame(b []byte) error {
	p, err := arp.Parse(b[14:])
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.asked = append(f.asked, p.TargetIP)
	if f.heard == nil {
		f.heard = map[netip.Addr]int{}
	}
	f.heard[p.TargetIP]++
	lost := f.deaf[p.TargetIP] && f.heard[p.TargetIP] == 1
	f.mu.Unlock()
	if mac, ok := f.hosts[p.TargetIP]; ok && !lost {
		r := arp.Packet{Op: arp.OpReply, SenderMAC: mac, SenderIP: p.TargetIP, TargetMAC: p.SenderMAC, TargetIP: p.SenderIP}
		fr, _ := r.Frame(p.SenderMAC)
		f.replies <- fr
		f.replies <- fr // a duplicate must not make a second observation
	}
	return nil
}

func (f *fakeLink) ReadFrame(b []byte) (int, error) {
	select {
	case r := <-f.replies:
		return copy(b, r), nil
	case <-f.deadline:
		return 0, errors.New("deadline")
	}
}

func (f *fakeLink) SetReadDeadline(time.Time) error {
	f.once.Do(func() { close(f.deadline) })
	return nil
}
func (f *fakeLink) Close() error { return nil }

func TestSweepFake(t *testing.T) {
	hosts := map[netip.Addr]net.HardwareAddr{
		netip.MustParseAddr("198.18.1.5"):  {0x58, 0x50, 0xed, 0, 0, 5},
		netip.MustParseAddr("198.18.1.62"): {0x58, 0x50, 0xed, 0, 0, 62},
		netip.MustParseAddr("198.18.1.70"): {0x58, 0x50, 0xed, 0, 0, 70}, // outside the /26
	}
	fl := newFakeLink(hosts)
	s := &arp.Sweeper{Rate: 1000, Linger: 50 * time.Millisecond, Dial: func(*net.Interface) (arp.Conn, error) { return fl, nil }}
	l := probes.Link{
		Iface:   &net.Interface{Name: "fake0", HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		Addr:    netip.MustParseAddr("198.18.1.1"),
		Subnets: []netip.Prefix{netip.MustParsePrefix("198.18.1.0/26")},
	}
	var (
		mu  sync.Mutex
		got []string
	)
	start := time.Now()
	err := s.Discover(context.Background(), l, func(o probes.Observation) {
		mu.Lock()
		defer mu.Unlock()
		if o.Facts[0] != (probes.Fact{Key: "arp.sweep", Value: "reply"}) {
			t.Errorf("fact %v", o.Facts)
		}
		got = append(got, o.IP.String()+" "+o.MAC.String())
	})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	slices.Sort(got)
	want := []string{"198.18.1.5 58:50:ed:00:00:05", "198.18.1.62 58:50:ed:00:00:3e"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// 64 addresses minus network, broadcast and our own; the 59 that
	// stayed silent asked a second time, the two that answered once.
	if len(fl.heard) != 61 || len(fl.asked) != 61+59 || fl.heard[netip.MustParseAddr("198.18.1.5")] != 1 ||
		fl.heard[netip.MustParseAddr("198.18.1.2")] != 2 || slices.Contains(fl.asked, l.Addr) ||
		slices.Contains(fl.asked, netip.MustParseAddr("198.18.1.0")) || slices.Contains(fl.asked, netip.MustParseAddr("198.18.1.63")) {
		t.Errorf("asked %d addresses, %d requests: %v", len(fl.heard), len(fl.asked), fl.asked)
	}
	// 61 requests at 1000/s, two per 2 ms tick: at least 60 ms
	if el < 60*time.Millisecond {
		t.Errorf("sweep took %v: the rate cap is not applied", el)
	}
}

// A host whose first request is lost is still found: the silent
// addresses are asked once more.
func TestSweepAsksSilentAddressesAgain(t *testing.T) {
	deafHost := netip.MustParseAddr("198.18.1.9")
	fl := newFakeLink(map[netip.Addr]net.HardwareAddr{deafHost: {0x58, 0x50, 0xed, 0, 0, 9}})
	fl.deaf = map[netip.Addr]bool{deafHost: true}
	s := &arp.Sweeper{Rate: 1000, Dial: func(*net.Interface) (arp.Conn, error) { return fl, nil }}
	l := probes.Link{
		Iface:   &net.Interface{Name: "fake0", HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		Addr:    netip.MustParseAddr("198.18.1.1"),
		Subnets: []netip.Prefix{netip.MustParsePrefix("198.18.1.0/28")},
	}
	var got []netip.Addr
	var mu sync.Mutex
	start := time.Now()
	if err := s.Discover(context.Background(), l, func(o probes.Observation) { mu.Lock(); got = append(got, o.IP); mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []netip.Addr{deafHost}) {
		t.Errorf("found %v, want the host that missed the first request", got)
	}
	// Ended once replies stopped: far inside the 1.5 s default linger.
	if el := time.Since(start); el > arp.DefaultLinger {
		t.Errorf("sweep took %v", el)
	}
}

func TestSweepRefusesLargeSubnet(t *testing.T) {
	s := &arp.Sweeper{Dial: func(*net.Interface) (arp.Conn, error) { t.Fatal("dialled"); return nil, nil }}
	l := probes.Link{
		Iface:   &net.Interface{Name: "fake0", HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		Addr:    netip.MustParseAddr("198.18.1.1"),
		Subnets: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15")},
	}
	err := s.Discover(context.Background(), l, func(probes.Observation) {})
	if !errors.Is(err, arp.ErrSubnetTooLarge) {
		t.Fatalf("err %v, want ErrSubnetTooLarge", err)
	}
	l.Subnets = nil
	if err := s.Discover(context.Background(), l, func(probes.Observation) {}); err == nil {
		t.Fatal("no error for a link without subnets")
	}
}

func TestSweepStopsWithContext(t *testing.T) {
	fl := newFakeLink(nil)
	s := &arp.Sweeper{Rate: 100, Dial: func(*net.Interface) (arp.Conn, error) { return fl, nil }}
	l := probes.Link{
		Iface:   &net.Interface{Name: "fake0", HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		Addr:    netip.MustParseAddr("198.18.1.1"),
		Subnets: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/16")},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Discover(ctx, l, func(probes.Observation) {})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if time.Since(start) > time.Second || len(fl.asked) > 20 {
		t.Fatalf("sweep ran %v and sent %d requests after a 100ms deadline at 100/s", time.Since(start), len(fl.asked))
	}
}
