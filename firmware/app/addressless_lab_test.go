package app_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/mdlayher/packet"

	"github.com/camwarden/camwarden/firmware/app"
	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// Cameras often speak IPv6 (ND, MLD) and LLDP before their first IPv4
// frame. Such a device used to be queued for probing when that first frame
// arrived, with no address to probe, and was then dropped for good. Here
// every device, after the daemon is up (sweep_interval 0s, so no later
// sweep rescues anyone), first sends a router solicitation from its EUI-64
// link-local address and an LLDP frame, and only then boots its IPv4 side.
// Each must be actively probed after its address appeared (probed_at), and
// named right; the Hikvision and Dahua ones reach the definitive verdict
// their own discovery protocol gives. Three
// rounds, each a fresh lab and daemon: the loss was intermittent.
func TestLabDevicesSeenFirstWithoutIPv4AreProbed(t *testing.T) {
	labtest.RequireRoot(t)
	bin := binaries(t)
	spec, err := lab.ParseSpec([]byte(`name: addressless
devices:
  - profile: hikvision
  - profile: dahua
  - profile: axis
  - profile: hanwha
  - profile: bosch
  - profile: hikvision-lts
  - profile: uniview
  - profile: lorex
`), "addressless test")
	if err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			// No emulators at lab-up: each device boots after the daemon.
			l := upSpec(t, fmt.Sprintf("cwa%d", round), spec, false)
			// The lab gave every device its IPv4 address; take it away until
			// the device boots, so no start-up ARP sweep finds it early.
			for _, dev := range l.Devices() {
				if out, err := ipIn(l, dev.Name, "addr", "flush", "dev", "eth0", "scope", "global"); err != nil {
					t.Fatalf("%s: %v\n%s", dev.Name, err, out)
				}
			}
			state := t.TempDir()
			d := startDaemonCfg(t, t, l, state, "probing: {sweep_interval: 0s, timeout: 2s}\npolicy: {}\n")
			waitFor(t, d, 10*time.Second, "the daemon's first state file", func() bool { _, ok := d.snapshot(); return ok })
			time.Sleep(500 * time.Millisecond) // capture open, start-up sweep over an empty VLAN done

			for _, dev := range l.Devices() {
				if err := lab.InNS(dev.NS, func() error { return sendAddresslessHello(dev.MAC) }); err != nil {
					t.Fatalf("%s: %v", dev.Name, err)
				}
			}
			// The daemon now knows every device by MAC, without an address.
			// devices.json is rewritten at most every 10 s (state.go,
			// devicesEvery), so the wait covers two of its rewrites.
			waitFor(t, d, 25*time.Second, "every device in the inventory by its IPv6/LLDP frames", func() bool {
				s, ok := d.snapshot()
				if !ok {
					return false
				}
				n := 0
				for _, dev := range l.Devices() {
					for _, got := range s.Devices {
						if got.MAC == dev.MAC.String() {
							n++
						}
					}
				}
				return n == len(l.Devices())
			})
			booted := time.Now()
			for _, dev := range l.Devices() {
				if out, err := ipIn(l, dev.Name, "addr", "add", dev.IP.String()+"/24", "dev", "eth0"); err != nil {
					t.Fatalf("%s: %v\n%s", dev.Name, err, out)
				}
				sim, err := l.Command(context.Background(), dev.Name, filepath.Join(bin, "camsim"), "run",
					"--profile", dev.Profile, "--iface", "eth0")
				if err != nil {
					t.Fatal(err)
				}
				var simLog bytes.Buffer
				sim.Stdout, sim.Stderr = &simLog, &simLog
				if err := sim.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { sim.Process.Signal(syscall.SIGTERM); sim.Wait() })
			}

			want := map[string]lab.Device{}
			for _, dev := range l.Devices() {
				want[dev.MAC.String()] = dev
			}
			var last app.Snapshot
			probedAll := func() bool {
				s, ok := d.snapshot()
				if !ok {
					return false
				}
				last = s
				done := 0
				for _, got := range s.Devices {
					dev, ok := want[got.MAC]
					if !ok || got.IP != dev.IP.String() || got.ProbedAt.Before(booted) || got.Maker != dev.Maker {
						continue
					}
					if (dev.Maker == "hikvision" || dev.Maker == "dahua") && got.Confidence != "definitive" {
						continue
					}
					done++
				}
				return done == len(want)
			}
			deadline := time.Now().Add(60 * time.Second)
			for time.Now().Before(deadline) && !probedAll() {
				time.Sleep(200 * time.Millisecond)
			}
			for _, got := range last.Devices {
				dev, ok := want[got.MAC]
				if !ok {
					continue
				}
				delete(want, got.MAC)
				switch {
				case got.IP != dev.IP.String():
					t.Errorf("%s: ip %q, want %s", dev.Name, got.IP, dev.IP)
				case got.ProbedAt.Before(booted):
					t.Errorf("%s (%s): not probed since its address appeared (probed_at %v); evidence %v",
						dev.Name, dev.MAC, got.ProbedAt, got.Evidence)
				case (dev.Maker == "hikvision" || dev.Maker == "dahua") && got.Confidence != "definitive":
					t.Errorf("%s: %s %s, want definitive from its own discovery protocol asked unicast; evidence %v",
						dev.Name, got.Maker, got.Confidence, got.Evidence)
				case got.Maker != dev.Maker:
					t.Errorf("%s: maker %q, want %q", dev.Name, got.Maker, dev.Maker)
				}
			}
			for _, dev := range want {
				t.Errorf("%s (%s) missing from the daemon's inventory", dev.Name, dev.MAC)
			}
			if t.Failed() {
				t.Logf("daemon log:\n%s", tail(d.log.String(), 6000))
			}
		})
	}
}

// ipIn runs ip(8) in a lab host's namespace.
func ipIn(l *lab.Lab, host string, args ...string) ([]byte, error) {
	cmd, err := l.Command(context.Background(), host, "ip", args...)
	if err != nil {
		return nil, err
	}
	return cmd.CombinedOutput()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// sendAddresslessHello sends, on eth0 of the namespace it runs in, what a
// camera says before it has an IPv4 address: an IPv6 router solicitation
// from its EUI-64 link-local address, and an LLDP frame.
func sendAddresslessHello(mac net.HardwareAddr) error {
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		return err
	}
	conn, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	src := eui64LinkLocal(mac)
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: src.AsSlice(), DstIP: net.ParseIP("ff02::2")}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterSolicitation, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip6); err != nil {
		return err
	}
	rs := &layers.ICMPv6RouterSolicitation{}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip6, icmp, rs); err != nil {
		return fmt.Errorf("router solicitation: %w", err)
	}
	frames := [][]byte{buf.Bytes(), lldpFrame(mac, "camera")}
	for _, f := range frames {
		if _, err := conn.WriteTo(f, &packet.Addr{HardwareAddr: net.HardwareAddr(f[:6])}); err != nil {
			return err
		}
	}
	return nil
}

func eui64LinkLocal(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8], a[9], a[10] = mac[0]^0x02, mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}

// lldpFrame is a minimal IEEE 802.1AB frame: chassis and port by MAC, a TTL
// and a system name.
func lldpFrame(mac net.HardwareAddr, name string) []byte {
	f := append([]byte{0x01, 0x80, 0xc2, 0, 0, 0x0e}, mac...)
	f = append(f, 0x88, 0xcc)
	tlv := func(typ byte, v []byte) {
		f = binary.BigEndian.AppendUint16(f, uint16(typ)<<9|uint16(len(v)))
		f = append(f, v...)
	}
	tlv(1, append([]byte{4}, mac...)) // chassis id: MAC address
	tlv(2, append([]byte{3}, mac...)) // port id: MAC address
	tlv(3, []byte{0, 120})            // TTL
	tlv(5, []byte(name))              // system name
	tlv(0, nil)                       // end
	for len(f) < 60 {
		f = append(f, 0)
	}
	return f
}
