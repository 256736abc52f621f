package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes/arp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// writeCapture writes a pcap of one gratuitous ARP from each of n cameras
// and returns its path and the offset where its last record starts.
func writeCapture(t *testing.T, n int) (string, int) {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	last := 0
	for i := 1; i <= n; i++ {
		mac := net.HardwareAddr{0x58, 0x50, 0xed, 0, 0, byte(i)}
		ip := netip.AddrFrom4([4]byte{198, 18, 1, byte(i)})
		f, err := arp.Packet{Op: arp.OpRequest, SenderMAC: mac, SenderIP: ip, TargetMAC: make(net.HardwareAddr, 6), TargetIP: ip}.Frame(arp.Broadcast)
		if err != nil {
			t.Fatal(err)
		}
		last = buf.Len()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, 0), CaptureLength: len(f), Length: len(f)}, f); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "capture.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, last
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func devices(t *testing.T, out string) int {
	t.Helper()
	var v struct{ Devices []json.RawMessage }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not the survey JSON: %v\n%s", err, out)
	}
	return len(v.Devices)
}

// Flags after the file, before it, and after -- all mean what they say.
func TestAnalyzeFlagsAnywhere(t *testing.T) {
	path, _ := writeCapture(t, 3)
	for _, args := range [][]string{
		{"analyze", path, "--json"},
		{"analyze", "--json", path},
		{"analyze", "-json", "--", path},
	} {
		code, out, errs := run(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errs)
		}
		if n := devices(t, out); n != 3 {
			t.Errorf("%q: %d devices, want 3", args, n)
		}
	}
	// after --, a dash-led word is a file name, not a flag
	code, _, errs := run(t, "analyze", "--", "--json")
	if code != 1 || !strings.Contains(errs, "--json") || strings.Contains(errs, "usage") {
		t.Errorf("analyze -- --json: exit %d: %s", code, errs)
	}
	// an unknown flag after the file is still refused by name
	code, _, errs = run(t, "analyze", path, "--jsn")
	if code != 1 || !strings.Contains(errs, "-jsn") {
		t.Errorf("unknown flag: exit %d: %s", code, errs)
	}
}

// A capture cut inside its last record prints the devices before the cut,
// says where the damage is, and exits 3.
func TestAnalyzeDamagedCapture(t *testing.T) {
	path, last := writeCapture(t, 3)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)-5], 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "analyze", path, "--json")
	if code != ExitDamaged {
		t.Errorf("exit %d, want %d; stderr %s", code, ExitDamaged, errs)
	}
	if n := devices(t, out); n != 2 {
		t.Errorf("%d devices from the part before the cut, want 2", n)
	}
	want := "capture damaged at byte " + strconv.Itoa(last) + " (record 3)"
	if !strings.Contains(errs, want) || !strings.Contains(errs, "2 packets") {
		t.Errorf("stderr %q, want it to contain %q and the packets read", errs, want)
	}
}
