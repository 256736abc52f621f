//go:build linux

package labrelay

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/camwarden/camwarden/board"
)

var _ board.Relay = (*Relay)(nil)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("labrelay tests need root (network namespaces); CI=true so this is a failure")
	}
	t.Skip("labrelay tests need root to create network namespaces")
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
}

// inNS runs f with the calling thread switched into the named namespace;
// sockets created there stay in that namespace afterwards.
func inNS(t *testing.T, name string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	f()
}

// lab: namespace "core" 198.18.250.1 <-veth-> namespace "appl" 198.18.250.2,
// where the appliance's end of the uplink is up0.
func lab(t *testing.T) (core, appl string) {
	needRoot(t)
	id := os.Getpid() % 100000
	core, appl = fmt.Sprintf("cwt-brd-core%d", id), fmt.Sprintf("cwt-brd-appl%d", id)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", core).Run()
		exec.Command("ip", "netns", "del", appl).Run()
	})
	run(t, "netns", "add", core)
	run(t, "netns", "add", appl)
	run(t, "-n", core, "link", "add", "core0", "type", "veth", "peer", "name", "up0", "netns", appl)
	run(t, "-n", core, "addr", "add", "198.18.250.1/30", "dev", "core0")
	run(t, "-n", appl, "addr", "add", "198.18.250.2/30", "dev", "up0")
	run(t, "-n", core, "link", "set", "core0", "up")
	run(t, "-n", appl, "link", "set", "up0", "up")
	return core, appl
}

// echoes reports whether a datagram from appl reaches core and comes back.
func echoes(t *testing.T, client *net.UDPConn, server *net.UDPAddr) bool {
	t.Helper()
	buf := make([]byte, 64)
	for i := range 3 { // bounded: three tries, 150 ms each
		if _, err := client.WriteToUDP(fmt.Appendf(nil, "ping %d", i), server); err != nil {
			continue // link down: the kernel may refuse to send at all
		}
		client.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		if n, _, err := client.ReadFromUDP(buf); err == nil && n > 0 {
			return true
		}
	}
	return false
}

func TestCutIsProvableByTraffic(t *testing.T) {
	core, appl := lab(t)
	var srv, cli *net.UDPConn
	var err error
	inNS(t, core, func() { srv, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 18, 250, 1), Port: 7007}) })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	inNS(t, appl, func() { cli, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 18, 250, 2)}) })
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			srv.WriteToUDP(buf[:n], from)
		}
	}()
	to := &net.UDPAddr{IP: net.IPv4(198, 18, 250, 1), Port: 7007}

	r, err := Open(appl, "up0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.IsCut() {
		t.Fatal("up link reads as cut")
	}
	if !echoes(t, cli, to) {
		t.Fatal("no traffic before the cut")
	}
	if err := r.Cut(true); err != nil {
		t.Fatal(err)
	}
	if !r.IsCut() || echoes(t, cli, to) {
		t.Fatal("traffic passes a cut uplink")
	}
	if err := r.Cut(false); err != nil {
		t.Fatal(err)
	}
	// The veth needs a moment to report carrier again.
	ok := false
	for range 20 {
		if ok = echoes(t, cli, to); ok {
			break
		}
	}
	if !ok || r.IsCut() {
		t.Fatal("no traffic after restore")
	}

	// A relay opened on a downed link reads as cut.
	r.Cut(true)
	r2, err := Open(appl, "up0")
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if !r2.IsCut() {
		t.Fatal("down link read as not cut")
	}
}

func TestOpenErrors(t *testing.T) {
	needRoot(t)
	if _, err := Open("", "eth0"); err == nil {
		t.Fatal("empty namespace accepted")
	}
	if _, err := Open("cwt-brd-does-not-exist", "up0"); err == nil {
		t.Fatal("missing namespace accepted")
	}
	_, appl := lab(t)
	if _, err := Open(appl, "nope0"); err == nil {
		t.Fatal("missing link accepted")
	}
}
