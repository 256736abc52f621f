package lab_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// Two hosts on the lab bridge reach each other by unicast and by multicast,
// which is what every discovery protocol test relies on.
func TestHostsTalkUnicastAndMulticast(t *testing.T) {
	n := labtest.Net(t, "cwtlab")
	a := labtest.Host(t, n, "a", 1, nil)
	b := labtest.Host(t, n, "b", 2, nil)

	group := netip.MustParseAddrPort("239.255.255.250:37020")
	var rx *net.UDPConn
	if err := b.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		rx, err = net.ListenMulticastUDP("udp4", ifi, net.UDPAddrFromAddrPort(group))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()

	var tx *net.UDPConn
	if err := a.Do(func() (err error) {
		tx, err = net.ListenUDP("udp4", nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if _, err := tx.WriteToUDPAddrPort([]byte("hello"), group); err != nil {
		t.Fatalf("multicast send from a: %v", err)
	}
	rx.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64)
	k, from, err := rx.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("b did not get the multicast datagram: %v", err)
	}
	if string(buf[:k]) != "hello" || from.Addr() != a.Addr.Addr() {
		t.Fatalf("got %q from %s, want hello from %s", buf[:k], from, a.Addr.Addr())
	}

	var ln net.Listener
	if err := b.Do(func() (err error) {
		ln, err = net.Listen("tcp4", b.Addr.Addr().String()+":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	if err := a.Do(func() error {
		d := net.Dialer{Timeout: 3 * time.Second}
		c, err := d.DialContext(context.Background(), "tcp4", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Fatalf("unicast TCP a->b: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := lab.InNS(a.NS, func() error { return nil }); err == nil {
		t.Fatal("namespace still exists after Close")
	}
}
