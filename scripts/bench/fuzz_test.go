package bench

import (
	"bytes"
	"net/netip"
	"os"
	"testing"
)

// The parsers read other programs' output and frames off the lab wire:
// whatever they get, they must not panic and must stay within their input.

func FuzzParseUDPFrame(f *testing.F) {
	f.Add(udpFrame(netip.MustParseAddr("198.18.1.13"), netip.MustParseAddr("239.255.255.250"), 40000, 37020, []byte("<Probe/>")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, ok := ParseUDPFrame(b)
		if ok && len(u.Payload) > len(b) {
			t.Fatal("payload longer than the frame")
		}
	})
}

func FuzzDaemonLog(f *testing.F) {
	if b, err := os.ReadFile("testdata/daemon.log"); err == nil {
		for _, l := range bytes.Split(b, []byte("\n")) {
			f.Add(string(l))
		}
	}
	f.Add(`msg=device mac="unterminated`)
	f.Fuzz(func(t *testing.T, line string) {
		ParseDeviceLine(line)
		ParseCutLine(line)
	})
}

func FuzzParseTools(f *testing.F) {
	for _, p := range []string{"testdata/nmap.xml", "testdata/arp-scan.out"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("<nmaprun><prescript><script id=\"x\" output=\"198.18.1.1\n a\"/></prescript></nmaprun>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseNmapXML(bytes.NewReader(b))
		_, _ = ParseArpScan(bytes.NewReader(b))
	})
}
