//go:build linux

package camsim_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/dhcp"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

func retryProfile() camsim.Profile {
	return camsim.Profile{Name: "retry", VendorClass: "udhcp 1.36.1", Hostname: "cam-retry", DHCPRetry: 300 * time.Millisecond}
}

// TestLabChildBootRetry is the device for TestBootDHCPRetry, run in its
// namespace.
func TestLabChildBootRetry(t *testing.T) {
	ip := os.Getenv("CWTPC_RETRY_IP")
	if ip == "" {
		t.Skip("helper process for TestBootDHCPRetry")
	}
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	h := camsim.Host{Iface: "eth0", MAC: ifi.HardwareAddr, IP: netip.MustParseAddr(ip)}
	if err := camsim.Run(ctx, retryProfile(), h, nil); err != nil {
		t.Fatal(err)
	}
}

// With dhcp_retry a device keeps sending its DISCOVER after the boot burst,
// so a listener that starts late still hears option 60: the replay lab's
// surveys start after every device has booted.
func TestBootDHCPRetry(t *testing.T) {
	p := retryProfile()
	n := labtest.Net(t, "cwtpcr")
	app := labtest.Host(t, n, "app", 1, nil)
	cam := labtest.Host(t, n, "cam", 10, nil)

	cmd := cam.Command(context.Background(), os.Args[0], "-test.run=^TestLabChildBootRetry$")
	cmd.Env = append(os.Environ(), "CWTPC_RETRY_IP="+cam.Addr.Addr().String())
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
	// Past the boot burst and its 2 s repeat before anyone listens.
	time.Sleep(2500 * time.Millisecond)

	src := labtest.Capture(t, app)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var (
		mu        sync.Mutex
		discovers int
	)
	_, _ = capture.Run(ctx, src, &probes.Registry{Decoders: []probes.Decoder{dhcp.Decoder{}}}, func(o probes.Observation) {
		if o.MAC.String() != cam.MAC.String() {
			return
		}
		f := map[string]string{}
		for _, x := range o.Facts {
			f[x.Key] = x.Value
		}
		if f["dhcp.msg"] == "discover" && f["dhcp.vendor_class"] == p.VendorClass && f["dhcp.hostname"] == p.Hostname {
			mu.Lock()
			discovers++
			mu.Unlock()
		}
	}, nil)
	mu.Lock()
	defer mu.Unlock()
	// 2 s at one per 300 ms is about 6; fewer than 3 means no retrying.
	if discovers < 3 {
		t.Errorf("%d DISCOVERs in 2 s after boot, want a retry every 300 ms", discovers)
	}
}
