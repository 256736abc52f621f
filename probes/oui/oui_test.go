package oui

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
)

func mac(t testing.TB, s string) net.HardwareAddr {
	t.Helper()
	hw, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return hw
}

// Prefixes pinned from the IEEE registry as packaged in oui-data 2.1.9
// (see SOURCE.md); they change only when the pinned copy does.
func TestLookupKnownPrefixes(t *testing.T) {
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mac, prefix string
		bits        int
		org         string
	}{
		{"44:19:b6:12:34:56", "44:19:B6", 24, "Hangzhou Hikvision Digital Technology Co.,Ltd."},
		{"4c:bd:8f:00:00:01", "4C:BD:8F", 24, "Hangzhou Hikvision Digital Technology Co.,Ltd."},
		{"58:50:ed:c4:00:01", "58:50:ED", 24, "Hangzhou Hikvision Digital Technology Co.,Ltd."},
		{"3c:ef:8c:aa:bb:cc", "3C:EF:8C", 24, "Zhejiang Dahua Technology Co., Ltd."},
		{"9c:06:6e:01:02:03", "9C:06:6E", 24, "Hytera Communications Corporation Limited"},
		{"0c:a6:4c:01:02:03", "0C:A6:4C", 24, "Hangzhou Ezviz Software Co.,Ltd."},
		{"00:1f:54:01:02:03", "00:1F:54", 24, "Lorex Technology Inc."},
		{"ac:cc:8e:12:34:56", "AC:CC:8E", 24, "Axis Communications AB"},
		// MA-M: B0:B3:53 is split into 16 blocks; 6 is Hikrobot's, 7 someone else's.
		{"b0:b3:53:60:00:01", "B0:B3:53:6", 28, "Hangzhou Hikrobot Technology Co., Ltd."},
		{"b0:b3:53:6f:ff:ff", "B0:B3:53:6", 28, "Hangzhou Hikrobot Technology Co., Ltd."},
		{"b0:b3:53:70:00:01", "B0:B3:53:7", 28, "WUUK LABS CORP."},
		// MA-S: 70:B3:D5 is split into 4096 blocks of 36 bits.
		{"70:b3:d5:00:10:01", "70:B3:D5:00:1", 36, "SOREDI touch systems GmbH"},
		{"70:b3:d5:00:2f:ff", "70:B3:D5:00:2", 36, "Gogo BA"},
		// 64-bit EUI is looked up by its first bits too.
		{"44:19:b6:ff:fe:12:34:56", "44:19:B6", 24, "Hangzhou Hikvision Digital Technology Co.,Ltd."},
	}
	for _, c := range cases {
		e, ok := Lookup(mac(t, c.mac))
		if !ok {
			t.Errorf("Lookup(%s): not found, want %s", c.mac, c.org)
			continue
		}
		if e.Prefix != c.prefix || e.Bits != c.bits || e.Org != c.org {
			t.Errorf("Lookup(%s) = %+v, want {%s %d %s}", c.mac, e, c.prefix, c.bits, c.org)
		}
	}
}

func TestLookupNothing(t *testing.T) {
	for _, s := range []string{
		"46:19:b6:12:34:56", // Hikvision prefix with the locally administered bit set
		"02:c4:00:c4:00:01", // camsim's locally administered default
		"da:a1:19:00:00:01", // randomised (phone-style) MAC
		"45:19:b6:12:34:56", // group bit set
		"01:00:5e:00:00:fb", // IPv4 multicast
		"33:33:00:00:00:01", // IPv6 multicast
		"ff:ff:ff:ff:ff:ff", // broadcast
		"b0:b3:53:f0:00:01", // inside an MA-M parent whose block F is unassigned: the IEEE placeholder is not an answer
	} {
		if e, ok := Lookup(mac(t, s)); ok {
			t.Errorf("Lookup(%s) = %+v, want nothing", s, e)
		}
	}
	if _, ok := Lookup(nil); ok {
		t.Error("Lookup(nil) found something")
	}
	if _, ok := Lookup(net.HardwareAddr{0x44, 0x19, 0xb6}); ok {
		t.Error("Lookup of a 3-byte address found something")
	}
}

// The table must look like the real registry: these floors catch a
// truncated or wrongly filtered regeneration.
func TestPlausibleCounts(t *testing.T) {
	n := Size()
	if n.MAL < 35000 || n.MAM < 5000 || n.MAS < 6000 {
		t.Errorf("Size() = %+v, want >35000 MA-L, >5000 MA-M, >6000 MA-S", n)
	}
	byOrg := map[string]int{}
	bits := map[int]int{}
	for e := range All() {
		bits[e.Bits]++
		if e.Bits == 24 {
			byOrg[e.Org]++
		}
		if e.Org == "IEEE Registration Authority" && e.Bits == 24 {
			t.Errorf("placeholder MA-L %s kept", e.Prefix)
		}
	}
	if bits[24] != n.MAL || bits[28] != n.MAM || bits[36] != n.MAS {
		t.Errorf("All() counts %v disagree with Size() %+v", bits, n)
	}
	floors := map[string]int{
		"Hangzhou Hikvision Digital Technology Co.,Ltd.": 81,
		"Zhejiang Dahua Technology Co., Ltd.":            25,
		"HUAWEI TECHNOLOGIES CO.,LTD":                    1200,
		"zte corporation":                                400,
		"Hangzhou Ezviz Software Co.,Ltd.":               10,
	}
	for org, min := range floors {
		if byOrg[org] < min {
			t.Errorf("%d MA-L prefixes for %q, want at least %d", byOrg[org], org, min)
		}
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	for name, in := range map[string][]byte{
		"not gzip":      []byte("4419B6\t24\tX\n"),
		"empty":         gz(""),
		"bits mismatch": gz("4419B6\t28\tX\n"),
		"no org":        gz("4419B6\t24\t\n"),
		"not hex":       gz("4419BG\t24\tX\n"),
		"bad length":    gz("4419B61A\t32\tX\n"),
		"long line":     gz("4419B6\t24\t" + strings.Repeat("x", 5000) + "\n"),
		"out of order":  gz("4419B6\t24\tX\n0019B6\t24\tY\n"),
	} {
		if _, err := parse(in); err == nil {
			t.Errorf("%s: parse accepted it", name)
		}
	}
	tb, err := parse(gz("4419B6\t24\tHik\nB0B3536\t28\tRobot\n"))
	if err != nil || len(tb.order) != 2 || tb.entry(1, 0).Prefix != "B0:B3:53:6" {
		t.Errorf("parse small table: %+v, %v", tb, err)
	}
}

func BenchmarkLookup(b *testing.B) {
	if err := Load(); err != nil {
		b.Fatal(err)
	}
	macs := []net.HardwareAddr{
		mac(b, "44:19:b6:12:34:56"), mac(b, "b0:b3:53:60:00:01"),
		mac(b, "70:b3:d5:00:10:01"), mac(b, "00:00:00:00:00:00"), mac(b, "fc:ff:ff:00:00:01"),
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		Lookup(macs[i%len(macs)])
	}
}

func BenchmarkLoad(b *testing.B) {
	for range b.N {
		if _, err := parse(tableGz); err != nil {
			b.Fatal(err)
		}
	}
}

// SOURCE.md is generated with the table; its counts must describe it.
func TestSourceDocMatchesTable(t *testing.T) {
	b, err := os.ReadFile("SOURCE.md")
	if err != nil {
		t.Fatal(err)
	}
	n := Size()
	for label, want := range map[string]int{"MA-L (24-bit) entries": n.MAL, "MA-M (28-bit) entries": n.MAM, "MA-S (36-bit) entries": n.MAS} {
		line := fmt.Sprintf("| %s | %d |", label, want)
		if !strings.Contains(string(b), line) {
			t.Errorf("SOURCE.md lacks %q", line)
		}
	}
	if !strings.Contains(string(b), "| version | 2.1.9 |") {
		t.Error("SOURCE.md does not name oui-data 2.1.9")
	}
}

// The table stays compact on the heap: it lives as long as the daemon, and
// the daemon's whole budget at 5,000 devices is 40 MB of RSS.
func TestTableHeapIsCompact(t *testing.T) {
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	tb, err := parse(tableGz)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	held := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	t.Logf("%d assignments hold %.2f MB of heap", len(tb.order), float64(held)/1e6)
	if held > 2_000_000 {
		t.Errorf("the parsed table holds %d bytes of heap, want at most 2 MB", held)
	}
	runtime.KeepAlive(tb)
}
