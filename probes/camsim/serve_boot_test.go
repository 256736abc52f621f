//go:build linux

package camsim_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/arp"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/dhcp"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// bootOnly keeps just what the boot service uses, so no other responder
// starts in the child.
func bootOnly(t testing.TB) camsim.Profile {
	full, err := camsim.Lookup("hikvision")
	if err != nil {
		t.Fatal(err)
	}
	return camsim.Profile{Name: full.Name, OUI: full.OUI, Hostname: full.Hostname, VendorClass: full.VendorClass}
}

func TestBootLoopbackIsQuiet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := camsim.Run(ctx, bootOnly(t), camsim.Host{IP: netip.MustParseAddr("127.0.0.1")}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestLabChildBoot is the emulated device, run by TestBootChatter as a child
// process inside the device's namespace (so every socket camsim opens is
// there).
func TestLabChildBoot(t *testing.T) {
	ip := os.Getenv("CWTPC_BOOT_IP")
	if ip == "" {
		t.Skip("helper process for TestBootChatter")
	}
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	h := camsim.Host{Iface: "eth0", MAC: ifi.HardwareAddr, IP: netip.MustParseAddr(ip)}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := camsim.Run(ctx, bootOnly(t), h, log); err != nil {
		t.Fatal(err)
	}
}

// TestBootChatter boots an emulated Hikvision in the lab and checks that a
// capture on the appliance sees its gratuitous ARP and DHCP DISCOVER/REQUEST
// with the profile's hostname and vendor class.
func TestBootChatter(t *testing.T) {
	p := bootOnly(t)
	n := labtest.Net(t, "cwtpcb")
	app := labtest.Host(t, n, "app", 1, nil)
	cam := labtest.Host(t, n, "cam", 10, p.MAC(1))

	src := labtest.Capture(t, app)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		mu  sync.Mutex
		obs []probes.Observation
	)
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_, _ = capture.Run(ctx, src, &probes.Registry{Decoders: []probes.Decoder{arp.Decoder{}, dhcp.Decoder{}}},
			func(o probes.Observation) { mu.Lock(); obs = append(obs, o); mu.Unlock() }, nil)
	}()

	cmd := cam.Command(context.Background(), os.Args[0], "-test.run=^TestLabChildBoot$")
	cmd.Env = append(os.Environ(), "CWTPC_BOOT_IP="+cam.Addr.Addr().String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // by PID: the child we started
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("device:\n%s", out.String())
		}
	}()

	want := map[string]func(probes.Observation) bool{
		"gratuitous ARP": func(o probes.Observation) bool {
			return o.Probe == "arp" && o.IP == cam.Addr.Addr() && o.Facts[0].Value == "gratuitous"
		},
		"DHCP discover": func(o probes.Observation) bool { return dhcpObs(o, "discover", p) },
		"DHCP request":  func(o probes.Observation) bool { return dhcpObs(o, "request", p) },
	}
	deadline := time.Now().Add(8 * time.Second)
	for len(want) > 0 && time.Now().Before(deadline) {
		mu.Lock()
		for name, match := range want {
			for _, o := range obs {
				if o.MAC.String() == cam.MAC.String() && match(o) {
					delete(want, name)
					break
				}
			}
		}
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-runDone
	for name := range want {
		t.Errorf("no %s from the booting device", name)
	}
}

func dhcpObs(o probes.Observation, msg string, p camsim.Profile) bool {
	if o.Probe != "dhcp" {
		return false
	}
	f := map[string]string{}
	for _, x := range o.Facts {
		f[x.Key] = x.Value
	}
	return f["dhcp.msg"] == msg && f["dhcp.hostname"] == p.Hostname && f["dhcp.vendor_class"] == p.VendorClass &&
		f["dhcp.params"] == "1,3,6,12,15,28,42"
}

// TestBootRefusesForeignLink: pointed at an interface that does not carry
// the device's address (here the machine's loopback), boot sends nothing and
// says why.
func TestBootRefusesForeignLink(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := camsim.Run(ctx, bootOnly(t), camsim.Host{Iface: "lo", IP: netip.MustParseAddr("198.18.1.99")}, nil)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("not the device's link")) {
		t.Fatalf("err %v", err)
	}
}
