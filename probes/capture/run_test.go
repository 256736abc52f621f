package capture_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/arp"
	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/dhcp"
	"github.com/camwarden/camwarden/probes/ipv6"
	"github.com/camwarden/camwarden/probes/lldp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var camMAC = net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0x00, 0x01}

func registry() *probes.Registry {
	return &probes.Registry{Decoders: []probes.Decoder{arp.Decoder{}, dhcp.Decoder{}, ipv6.Decoder{}, lldp.Decoder{}}}
}

// testFrames is one boot's worth of chatter plus noise, built with the
// protocol packages' own builders.
func testFrames(t testing.TB) [][]byte {
	ip := netip.MustParseAddr("198.18.1.10")
	garp, err := arp.Packet{Op: arp.OpRequest, SenderMAC: camMAC, SenderIP: ip, TargetMAC: make(net.HardwareAddr, 6), TargetIP: ip}.Frame(arp.Broadcast)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := dhcp.Client{MAC: camMAC, XID: 1, Hostname: "HIKVISION", VendorClass: "udhcp 1.20.2"}.Message(dhcp.Discover)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := dhcp.ClientFrame(camMAC, msg)
	if err != nil {
		t.Fatal(err)
	}
	// the same DISCOVER behind an 802.1Q tag for VLAN 20
	tagged := append(append(append([]byte(nil), disc[:12]...), 0x81, 0x00, 0x00, 20), disc[12:]...)
	malformed := append([]byte(nil), disc[:14+20+8+100]...) // cut inside the BOOTP header
	malformed[14+2], malformed[14+3] = 0, byte(20+8+100)
	return [][]byte{garp, disc, tagged, malformed, {1, 2, 3}}
}

func writePcap(t testing.TB, frames [][]byte) []byte {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000+int64(i), 0), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestRunPcapFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boot.pcap")
	if err := os.WriteFile(path, writePcap(t, testFrames(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var obs []probes.Observation
	st, err := capture.Run(context.Background(), src, registry(), func(o probes.Observation) { obs = append(obs, o) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != 5 || st.Malformed != 1 || st.Errors != 1 {
		t.Errorf("stats %+v, want 5 packets, 1 malformed frame, 1 decoder error", st)
	}
	if len(obs) != 3 {
		t.Fatalf("%d observations: %+v", len(obs), obs)
	}
	if obs[0].Probe != "arp" || obs[0].Facts[0].Value != "gratuitous" || !obs[0].Time.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("first: %+v", obs[0])
	}
	for i, vlan := range []uint16{0, 20} {
		o := obs[1+i]
		if o.Probe != "dhcp" || o.VLAN != vlan || o.MAC.String() != camMAC.String() {
			t.Errorf("dhcp %d: %+v", i, o)
		}
	}
}

func TestRunPcapng(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range testFrames(t)[:2] {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(f), Length: len(f)}, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewFileSource(&buf)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if _, err := capture.Run(context.Background(), src, registry(), func(probes.Observation) { n++ }, nil); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d observations from pcapng, want 2", n)
	}
}

func TestFileSourceRejects(t *testing.T) {
	if _, err := capture.NewFileSource(bytes.NewReader([]byte("not a capture file at all"))); err == nil {
		t.Error("garbage accepted")
	}
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	_ = w.WriteFileHeader(65535, layers.LinkTypeLinuxSLL)
	if _, err := capture.NewFileSource(&buf); err == nil {
		t.Error("Linux cooked capture accepted as Ethernet")
	}
	// a file cut mid-packet gives the packets before the cut, then says so
	full := writePcap(t, testFrames(t))
	src, err := capture.NewFileSource(bytes.NewReader(full[:len(full)-2]))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := src.ReadPacket(); err != nil {
			t.Fatal(err)
		}
	}
	var d *capture.DamagedError
	if _, err := src.ReadPacket(); !errors.As(err, &d) || d.Packets != 4 || d.Index != 5 {
		t.Fatalf("truncated tail: %v, want damage in record 5 after 4 packets", err)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	src, err := capture.NewFileSource(bytes.NewReader(writePcap(t, testFrames(t))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := capture.Run(ctx, src, registry(), func(probes.Observation) {}, nil); err != context.Canceled {
		t.Fatalf("err %v", err)
	}
}

// BenchmarkMixed measures the whole passive path — frame decoding plus every
// decoder in the registry — over traffic as the kernel filter passes it.
func BenchmarkMixed(b *testing.B) {
	var frames [][]byte
	for _, n := range []string{"../arp/testdata/gratuitous.hex", "../arp/testdata/reply.hex", "../dhcp/testdata/udhcpc-discover.hex",
		"../dhcp/testdata/udhcpc-request.hex", "../ipv6/testdata/rs-eui64.hex", "../lldp/testdata/lldpd.hex"} {
		raw, err := os.ReadFile(n)
		if err != nil {
			b.Fatal(err)
		}
		fr := make([]byte, len(raw)/2)
		if _, err := hexDecode(fr, bytes.TrimSpace(raw)); err != nil {
			b.Fatal(err)
		}
		frames = append(frames, fr)
	}
	reg := registry()
	emit := func(probes.Observation) {}
	var f probes.Frame
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := capture.Decode(capture.Packet{Data: frames[i%len(frames)]}, &f); err != nil {
			b.Fatal(err)
		}
		if err := reg.DecodeAll(&f, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func hexDecode(dst, src []byte) (int, error) { return hex.Decode(dst, src) }
