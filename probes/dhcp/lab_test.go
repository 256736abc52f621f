//go:build linux

package dhcp_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/dhcp"
	"github.com/camwarden/camwarden/probes/probetest"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// recorder keeps a copy of the raw client frames, so the lab can refresh the
// golden files (CWTPC_WRITE_GOLDEN=1).
type recorder struct {
	capture.Source
	mu     sync.Mutex
	frames map[byte][]byte // by DHCP message type
}

func (r *recorder) ReadPacket() (capture.Packet, error) {
	p, err := r.Source.ReadPacket()
	if err == nil && len(p.Data) > 42+240 && p.Data[35] == 68 && p.Data[42] == 1 {
		if m, err := dhcp.Parse(p.Data[42:]); err == nil {
			r.mu.Lock()
			r.frames[m.Type()] = append([]byte(nil), p.Data...)
			r.mu.Unlock()
		}
	}
	return p, err
}

// TestDnsmasqUdhcpc runs a real DHCP exchange — dnsmasq serving, BusyBox
// udhcpc asking with a hostname, vendor class and FQDN — and captures it in
// the server's namespace, as an appliance sitting next to the DHCP server
// would.
func TestDnsmasqUdhcpc(t *testing.T) {
	labtest.RequireBinary(t, "/usr/sbin/dnsmasq")
	labtest.RequireBinary(t, "/usr/sbin/udhcpc")
	n := labtest.Net(t, "cwtpcd")
	srv := labtest.Host(t, n, "srv", 1, nil)
	cam := labtest.Host(t, n, "cam", 7, net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0x00, 0x07})
	// udhcpc must not configure the namespace's interface: a no-op script
	dir := t.TempDir()
	script := filepath.Join(dir, "udhcpc.script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{Source: labtest.Capture(t, srv), frames: map[byte][]byte{}}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	obsc := make(chan probes.Observation, 64)
	reg := &probes.Registry{Decoders: []probes.Decoder{dhcp.Decoder{}}}
	done := make(chan error, 1)
	go func() {
		_, err := capture.Run(ctx, rec, reg, func(o probes.Observation) { obsc <- o }, nil)
		done <- err
	}()

	dns := srv.Command(ctx, "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
		"--interface=eth0", "--bind-interfaces", "--dhcp-range=198.18.1.100,198.18.1.150,255.255.255.0,1h",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--pid-file="+filepath.Join(dir, "dnsmasq.pid"),
		"--dhcp-authoritative", "--no-ping")
	var dnsLog bytes.Buffer
	dns.Stdout, dns.Stderr = &dnsLog, &dnsLog
	if err := dns.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = dns.Process.Kill() // by PID: the process we started
		_ = dns.Wait()
		if t.Failed() {
			t.Logf("dnsmasq:\n%s", dnsLog.String())
		}
	}()
	time.Sleep(300 * time.Millisecond) // dnsmasq binds its socket

	cli := cam.Command(ctx, "/usr/sbin/udhcpc", "-f", "-q", "-n", "-i", "eth0", "-t", "5", "-T", "1", "-s", script,
		"-x", "hostname:DS-2CD2385G1-I", "-V", "HIKVISION", "-F", "cam7.lab.example")
	out, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	t.Logf("udhcpc: %s", out)

	got := map[string]map[string]string{}
	deadline := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case o := <-obsc:
			if o.MAC.String() != cam.MAC.String() {
				t.Fatalf("observation for %s, want the client %s", o.MAC, cam.MAC)
			}
			f := probetest.Facts(o)
			got[f["dhcp.msg"]] = f
		case <-deadline:
			t.Fatalf("saw only %v", got)
		}
	}
	for _, msg := range []string{"discover", "request"} {
		f := got[msg]
		if f["dhcp.hostname"] != "DS-2CD2385G1-I" || f["dhcp.vendor_class"] != "HIKVISION" ||
			f["dhcp.params"] != "1,3,6,12,15,28,42" || f["dhcp.client_id"] != "015850edc40007" {
			t.Errorf("%s: facts %v", msg, f)
		}
	}
	if got["request"]["dhcp.fqdn"] != "cam7.lab.example" {
		t.Errorf("request fqdn %q", got["request"]["dhcp.fqdn"])
	}
	cancel()
	<-done
	if os.Getenv("CWTPC_WRITE_GOLDEN") == "1" {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if err := os.WriteFile("testdata/udhcpc-request.hex", []byte(hex.EncodeToString(rec.frames[dhcp.Request])+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
