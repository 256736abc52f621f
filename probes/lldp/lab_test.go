//go:build linux

package lldp_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/lldp"
	"github.com/camwarden/camwarden/probes/probetest"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLldpd captures a real lldpd's announcements across the lab bridge
// (which forwards LLDP thanks to group_fwd_mask 0x4000) and checks the
// decoder reports the system name lldpd was configured with.
func TestLldpd(t *testing.T) {
	labtest.RequireBinary(t, "/usr/sbin/lldpd")
	n := labtest.Net(t, "cwtpcl")
	app := labtest.Host(t, n, "app", 1, nil)
	dev := labtest.Host(t, n, "dev", 9, nil)
	// lldpd hands its socket to lldpcli running unprivileged: the directory
	// must be searchable, which t.TempDir's 0700 parent is not.
	dir, err := os.MkdirTemp("", "cwtpc-lldpd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "lldpd.conf")
	if err := os.WriteFile(conf, []byte("configure system hostname cam-lldp-9\nconfigure lldp tx-interval 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	src := labtest.Capture(t, app)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	obsc := make(chan probes.Observation, 64)
	done := make(chan error, 1)
	go func() {
		_, err := capture.Run(ctx, src, &probes.Registry{Decoders: []probes.Decoder{lldp.Decoder{}}},
			func(o probes.Observation) { obsc <- o }, nil)
		done <- err
	}()

	// -u and -O keep this lldpd's socket and configuration apart from any
	// other lldpd on the machine (namespaces share /run).
	cmd := dev.Command(ctx, "/usr/sbin/lldpd", "-d", "-u", filepath.Join(dir, "lldpd.sock"), "-O", conf,
		"-S", "DS-2CD2385G1-I camera", "-I", "eth0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // by PID: the lldpd we started
		waited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
		if t.Failed() {
			t.Logf("lldpd:\n%s", out.String())
		}
	}()

	deadline := time.After(15 * time.Second)
	for {
		select {
		case o := <-obsc:
			f := probetest.Facts(o)
			if o.MAC.String() != dev.MAC.String() {
				t.Fatalf("LLDP from %s, want %s", o.MAC, dev.MAC)
			}
			if f["lldp.system_name"] != "cam-lldp-9" {
				continue // the first frame may leave before the configuration is read
			}
			if f["lldp.system_description"] != "DS-2CD2385G1-I camera" || f["lldp.chassis_id"] != dev.MAC.String() {
				t.Fatalf("facts %v", f)
			}
			if o.IP != dev.Addr.Addr() {
				t.Errorf("management address %s, want %s", o.IP, dev.Addr.Addr())
			}
			cancel()
			<-done
			return
		case <-deadline:
			t.Fatal("no LLDP with the configured system name")
		}
	}
}
