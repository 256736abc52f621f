package bench

import (
	"bufio"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(ds)
	if s.N != 100 || s.Min != time.Millisecond || s.Max != 100*time.Millisecond {
		t.Fatalf("summary %+v", s)
	}
	if s.P50 != 50*time.Millisecond || s.P99 != 99*time.Millisecond {
		t.Fatalf("p50 %v p99 %v, want 50ms 99ms", s.P50, s.P99)
	}
	if ds[0] != 100*time.Millisecond {
		t.Fatal("Summarize sorted its input in place")
	}
	// Five trials: p99 is the worst one.
	if s := Summarize([]time.Duration{5, 1, 4, 2, 3}); s.P50 != 3 || s.P99 != 5 {
		t.Fatalf("small sample %+v", s)
	}
	if s := Summarize(nil); s.N != 0 || Ms(s.P50) != "-" {
		t.Fatalf("empty %+v", s)
	}
}

func TestJudgeText(t *testing.T) {
	makers := []string{"hikvision", "dahua", "axis", "hp", "hanwha", "huawei", "zte", "hytera"}
	brands := map[string][]string{"dahua": {"Lorex", "CP PLUS"}, "hikvision": {"EZVIZ"}}
	cases := []struct {
		text, truth   string
		correct, flag bool
	}{
		{"mac vendor: Hangzhou Hikvision Digital Technology Co.,Ltd.", "hikvision", true, true},
		{"port 80 open: http Lorex webserver", "dahua", true, true},                 // brand counts
		{"mac vendor: Hikvision\nport 80: AXIS P1455-LE http", "axis", false, true}, // two makers: not correct
		{"port 80 open: http Apache php 7", "hp", false, false},                     // "hp" inside "php" is no name
		{"mac vendor: Hewlett Packard", "hp", true, false},                          // alias
		{"mac vendor: Samsung Techwin", "hanwha", true, false},                      // alias
		{"mac vendor: Realtek Semiconductor", "hikvision", false, false},            // nothing named
		{"mac vendor: Zhejiang Dahua Technology", "", false, true},                  // no true maker: never correct
		{"script broadcast-wsdd-discover: Type: Device dn:NetworkVideoTransmitter", "bosch", false, false},
	}
	for _, c := range cases {
		j := JudgeText(c.text, c.truth, makers, brands)
		if j.Correct != c.correct || j.Flags != c.flag {
			t.Errorf("JudgeText(%q, %q) = %+v, want correct %v flags %v", c.text, c.truth, j, c.correct, c.flag)
		}
	}
}

// testdata/daemon.log: records written by camwarden run in the lab (this
// repository's daemon, 2026-11-23), copied verbatim.
func TestDaemonLogLines(t *testing.T) {
	f, err := os.Open("testdata/daemon.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var devs []DeviceLine
	var cuts []CutLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if d, ok := ParseDeviceLine(sc.Text()); ok {
			devs = append(devs, d)
		}
		if c, ok := ParseCutLine(sc.Text()); ok {
			cuts = append(cuts, c)
		}
	}
	if len(devs) != 3 || len(cuts) != 1 {
		t.Fatalf("%d device lines, %d cut lines; want 3 and 1 (events must not count)", len(devs), len(cuts))
	}
	want := DeviceLine{MAC: "58:50:ed:c4:00:01", Maker: "hikvision", Confidence: "weak", Action: "alert", Flagged: true}
	if devs[1] != want {
		t.Errorf("device line %+v, want %+v", devs[1], want)
	}
	if devs[0].Maker != "" || devs[0].Action != "" || devs[0].Flagged {
		t.Errorf("empty quoted values: %+v", devs[0])
	}
	if len(cuts[0].MACs) != 1 || cuts[0].MACs[0] != "58:50:ed:c4:00:01" {
		t.Errorf("cut line %+v", cuts[0])
	}
	// A quoted value holding "msg=device " is not a device record.
	if _, ok := ParseDeviceLine(`time=x level=INFO msg="not msg=device here" mac=aa`); ok {
		t.Error("quoted msg=device taken for a record")
	}
}

func TestParseArpScan(t *testing.T) {
	f, err := os.Open("testdata/arp-scan.out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseArpScan(f)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := got[netip.MustParseAddr("198.18.1.10")]
	if !ok || !strings.Contains(strings.ToLower(v), "hikvision") {
		t.Fatalf("198.18.1.10: %q", v)
	}
	if len(got) < 50 {
		t.Fatalf("%d hosts, want the lab's 56 plus gateway", len(got))
	}
}

func TestParseNmapXML(t *testing.T) {
	f, err := os.Open("testdata/nmap.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseNmapXML(f)
	if err != nil {
		t.Fatal(err)
	}
	h, ok := got[netip.MustParseAddr("198.18.1.10")]
	if !ok || !h.Up || h.MAC != "58:50:ed:c4:00:01" {
		t.Fatalf("198.18.1.10: %+v", h)
	}
	if !strings.Contains(strings.ToLower(h.Text), "hikvision") {
		t.Fatalf("198.18.1.10 text does not name Hikvision:\n%s", h.Text)
	}
}

func TestSplitByAddress(t *testing.T) {
	out := "\n  Devices\n    198.18.1.10\n        Message id: x\n        Type: Device dn:NetworkVideoTransmitter\n    198.18.1.11\n        Type: y\n"
	b := splitByAddress(out)
	if len(b) != 2 || !strings.Contains(b[netip.MustParseAddr("198.18.1.10")], "NetworkVideoTransmitter") ||
		strings.Contains(b[netip.MustParseAddr("198.18.1.10")], "Type: y") {
		t.Fatalf("%q", b)
	}
}

func TestParseUDPFrame(t *testing.T) {
	f := udpFrame(netip.MustParseAddr("198.18.1.13"), netip.MustParseAddr("239.255.255.250"), 40000, 3702, []byte("hello"))
	u, ok := ParseUDPFrame(f)
	if !ok || u.Src.String() != "198.18.1.13" || u.DstPort != 3702 || string(u.Payload) != "hello" {
		t.Fatalf("%+v %v", u, ok)
	}
	// truncated anywhere: never a panic, never ok
	for i := range f {
		if _, ok := ParseUDPFrame(f[:i]); ok {
			t.Fatalf("truncated to %d accepted", i)
		}
	}
	frag := append([]byte(nil), f...)
	frag[14+6] = 0x20 // more fragments
	if _, ok := ParseUDPFrame(frag); ok {
		t.Fatal("fragment accepted")
	}
}

// udpFrame builds an Ethernet/IPv4/UDP frame (checksums left zero: the
// parser does not check them).
func udpFrame(src, dst netip.Addr, sp, dp uint16, payload []byte) []byte {
	f := make([]byte, 14+20+8+len(payload))
	copy(f[0:6], []byte{0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa})
	copy(f[6:12], []byte{0x00, 0x13, 0x02, 0xc4, 0x00, 0x01})
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0] = 0x45
	tot := 20 + 8 + len(payload)
	ip[2], ip[3] = byte(tot>>8), byte(tot)
	ip[8], ip[9] = 1, 17
	s, d := src.As4(), dst.As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	u := ip[20:]
	u[0], u[1], u[2], u[3] = byte(sp>>8), byte(sp), byte(dp>>8), byte(dp)
	ul := 8 + len(payload)
	u[4], u[5] = byte(ul>>8), byte(ul)
	copy(u[8:], payload)
	return f
}
