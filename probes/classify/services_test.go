package classify_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/classify"
	"github.com/camwarden/camwarden/probes/snmp"
)

// local is a locally administered MAC: no OUI evidence, so each case is
// decided by its service facts alone.
var local = net.HardwareAddr{0x02, 0xc4, 0, 0, 0, 9}

func classifyFacts(kv ...string) classify.Verdict {
	in := classify.Input{MAC: local}
	for i := 0; i+1 < len(kv); i += 2 {
		in.Facts = append(in.Facts, probes.F(kv[i], kv[i+1]))
	}
	return classify.Classify(classify.Default(), in)
}

// TestServiceRules checks the rules of signatures/services.yaml on the
// values the probers emit, with the sources those rules cite.
func TestServiceRules(t *testing.T) {
	cases := []struct {
		facts []string
		maker string
	}{
		{[]string{"snmp.sys_object_id", "1.3.6.1.4.1.39165.1.1", "snmp.enterprise", "39165"}, "hikvision"},
		{[]string{"snmp.enterprise", "37496"}, "dahua"},
		{[]string{"snmp.sys_object_id", "1.3.6.1.4.1.1004849.3.2.10", "snmp.enterprise", "1004849"}, "dahua"},
		{[]string{"snmp.enterprise", "2011", "snmp.sys_descr", "Huawei Versatile Routing Platform"}, "huawei"},
		{[]string{"snmp.enterprise", "3902"}, "zte"},
		{[]string{"snmp.enterprise", "40297"}, "hytera"},
		{[]string{"snmp.enterprise", "46055"}, "hytera"},
		{[]string{"snmp.enterprise", "368"}, "axis"},
		{[]string{"snmp.sys_object_id", "1.3.6.1.4.1.3967.1.1.0", "snmp.enterprise", "3967"}, "bosch"},
		{[]string{"snmp.enterprise", "36849"}, "hanwha"},
		{[]string{"snmp.enterprise", "9"}, "cisco"},
		{[]string{"snmp.enterprise", "39747"}, "uniview"},
		{[]string{"snmp.sys_descr", "AXIS Q6155-E PTZ Network Camera"}, "axis"},
		// greetings in generic words name nobody
		{[]string{"telnet.banner", "Welcome to Network Camera telnet daemon Password:"}, ""},
		{[]string{"ftp.banner", "Welcome to Network Camera FTP Server"}, ""},
		// net-snmp's own arc, as Bosch units and many Linux devices report it: nobody
		{[]string{"snmp.sys_object_id", "1.3.6.1.4.1.8072.3.2.10", "snmp.enterprise", "8072"}, ""},
		// an enterprise number that merely starts like a restricted one
		{[]string{"snmp.enterprise", "391650"}, ""},
		// BusyBox udhcpc's fingerprint names a DHCP client, not a maker
		{[]string{"dhcp.fingerprint", "1,3,6,12,15,28,42|udhcp 1.20.2"}, ""},
	}
	for _, c := range cases {
		v := classifyFacts(c.facts...)
		if v.Maker != c.maker || v.Undetermined() {
			t.Errorf("%v: maker %q (review %v), want %q", c.facts, v.Maker, v.Review, c.maker)
		}
	}
}

// TestSNMPFromCamsimClassifies runs the whole path: camsim's agent answers
// the SNMP prober, and the facts it emits name the maker.
func TestSNMPFromCamsimClassifies(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	p := camsim.Profile{Name: "snmp-dahua", SNMP: &camsim.SNMPProfile{Port: port, Community: "lab-ro",
		SysDescr: "NVR", SysObjectID: "1.3.6.1.4.1.1004849.3.2.10"}}
	stop := camsim.Start(p, camsim.Host{IP: netip.MustParseAddr("127.0.0.1")}, nil)
	defer stop()
	in := classify.Input{MAC: local}
	pr := &snmp.Prober{Communities: []string{"lab-ro"}, Port: port, Timeout: 100 * time.Millisecond}
	for range 50 {
		_ = pr.Probe(context.Background(), probes.Target{IP: netip.MustParseAddr("127.0.0.1")}, func(o probes.Observation) {
			in.Facts = append(in.Facts, o.Facts...)
		})
		if len(in.Facts) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond) // camsim's socket is not bound yet
	}
	if v := classify.Classify(classify.Default(), in); v.Maker != "dahua" || v.Confidence != classify.Strong {
		t.Fatalf("facts %v: verdict %+v", in.Facts, v)
	}
}
