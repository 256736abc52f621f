package app_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/app"
	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// A camera that merely boots on the VLAN is identified without a single
// probe: the daemon runs passive-only, the Hikvision camera reboots (its
// emulator restarts and chatters: gratuitous ARP, DHCP, WS-Discovery Hello,
// SSDP/mDNS announcements), and the daemon names its maker. A capture of the
// same traffic, fed to `camwarden analyze`, gives the same answer, and the
// capture shows the appliance sent nothing but its IGMP joins.
func TestLabPassiveBootAndAnalyze(t *testing.T) {
	labtest.RequireBinary(t, "/usr/bin/dumpcap")
	l := upLab(t, "cwps")
	bin := binaries(t)
	cam, ok := l.Device("hikvision")
	if !ok {
		t.Fatal("lab has no hikvision device")
	}

	// Record what the appliance's interface sees while the camera boots.
	pcap := filepath.Join(t.TempDir(), "boot.pcapng")
	dump, err := l.Command(context.Background(), "app", "dumpcap", "-q", "-i", "eth0", "-w", pcap)
	if err != nil {
		t.Fatal(err)
	}
	var dumpErr bytes.Buffer
	dump.Stderr = &dumpErr
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if dump.ProcessState == nil {
			dump.Process.Signal(syscall.SIGINT)
			dump.Wait()
		}
	}()

	state := t.TempDir()
	d := startDaemonCfg(t, t, l, state, "probing: {passive_only: true}\npolicy: {}\n")
	time.Sleep(1500 * time.Millisecond) // capture and daemon listening

	// Reboot the camera: stop its emulator and start a fresh one.
	if cam.PID > 0 {
		syscall.Kill(cam.PID, syscall.SIGTERM)
		waitFor(t, d, 5*time.Second, "the old emulator to exit", func() bool { return syscall.Kill(cam.PID, 0) != nil })
	}
	sim, err := l.Command(context.Background(), "hikvision", filepath.Join(bin, "camsim"), "run", "--profile",
		cam.Profile, "--iface", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	var simLog bytes.Buffer
	sim.Stdout, sim.Stderr = &simLog, &simLog
	booted := time.Now()
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Signal(syscall.SIGTERM); sim.Wait() })

	waitFor(t, d, 25*time.Second, "the booting camera in the passive inventory", func() bool {
		s, ok := d.snapshot()
		if !ok {
			return false
		}
		for _, dev := range s.Devices {
			if dev.MAC == cam.MAC.String() && dev.Maker == "hikvision" && dev.IP == cam.IP.String() {
				return true
			}
		}
		return false
	})
	t.Logf("identified passively within %s of boot (state.json is written every 2s)", time.Since(booted).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // let the boot burst's repeat land in the capture
	dump.Process.Signal(syscall.SIGINT)
	if err := dump.Wait(); err != nil {
		t.Fatalf("dumpcap: %v\n%s", err, dumpErr.String())
	}

	out, err := exec.Command(filepath.Join(bin, "camwarden"), "analyze", "--json", pcap).Output()
	if err != nil {
		t.Fatalf("analyze: %v", err)
	}
	devs, err := app.ReadJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := d.snapshot()
	live := map[string]string{}
	for _, dev := range s.Devices {
		live[dev.MAC] = dev.Maker + "/" + dev.IP
	}
	found := false
	for _, dev := range devs {
		if dev.MAC == cam.MAC.String() {
			found = true
			if got, want := dev.Maker+"/"+dev.IP, live[dev.MAC]; got != want {
				t.Errorf("analyze says %s, the live daemon %s", got, want)
			}
		}
	}
	if !found {
		t.Fatalf("analyze of the capture does not list the camera %s; it lists %d devices", cam.MAC, len(devs))
	}

	// Passive means passive: nothing from the appliance but IGMP membership.
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Logf("tshark not installed: skipping the sent-nothing check")
		return
	}
	sent, err := exec.Command(tshark, "-r", pcap, "-Y", "ip.src=="+lab.ApplianceIP.String()+" && !igmp").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if n := strings.Count(strings.TrimSpace(string(sent)), "\n"); len(strings.TrimSpace(string(sent))) > 0 {
		t.Errorf("the passive appliance sent %d packets:\n%s", n+1, sent)
	}
	_ = os.Remove(pcap)
}
