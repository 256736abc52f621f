package snmp_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/snmp"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

const secret = "cw-s3cret-community"

func probe(t *testing.T, p *snmp.Prober) map[string]string {
	t.Helper()
	got := map[string]string{}
	n := 0
	err := p.Probe(context.Background(), probes.Target{IP: loopback}, func(o probes.Observation) {
		n++
		if o.Probe != "snmp" {
			t.Errorf("probe name %q", o.Probe)
		}
		for _, f := range o.Facts {
			if strings.Contains(f.Value, secret) {
				t.Errorf("fact %s carries the community", f.Key)
			}
			got[f.Key] = f.Value
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n > 1 {
		t.Errorf("%d observations", n)
	}
	return got
}

// udpPort returns a loopback UDP port that was free a moment ago.
func udpPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestRealSnmpd asks Debian's net-snmp agent, run as a child of the test
// on a loopback port with a private configuration.
func TestRealSnmpd(t *testing.T) {
	labtest.RequireBinary(t, "/usr/sbin/snmpd")
	dir := t.TempDir()
	port := udpPort(t)
	conf := filepath.Join(dir, "snmpd.conf")
	// sysObjectID/sysDescr as a Dahua recorder reports them under its own
	// MIB tree (see services.yaml for the sources).
	err := os.WriteFile(conf, []byte(strings.Join([]string{
		"agentAddress udp:127.0.0.1:" + strconv.Itoa(port),
		"rocommunity " + secret + " 127.0.0.1",
		"sysObjectID .1.3.6.1.4.1.1004849.3.2.10",
		"sysDescr DH-NVR4108HS-4KS2 test agent",
		"sysLocation camwarden test", "sysContact nobody",
		"",
	}, "\n")), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command("/usr/sbin/snmpd", "-f", "-C", "-c", conf, "-Lo", "-p", filepath.Join(dir, "pid"),
		"-I", "-smux,mteTrigger,mteTriggerConf")
	cmd.Env = []string{"SNMP_PERSISTENT_DIR=" + dir, "MIBS=", "MIBDIRS=" + dir, "HOME=" + dir}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by PID: the child this test started
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("snmpd output:\n%s", out.String())
		}
	})

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// snmpd needs a moment to bind: ask until it answers.
	var got map[string]string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got = probe(t, &snmp.Prober{Communities: []string{"wrong-one", secret}, Port: port, Timeout: 300 * time.Millisecond, Log: log})
		if len(got) > 0 {
			break
		}
	}
	want := map[string]string{"snmp.sys_descr": "DH-NVR4108HS-4KS2 test agent",
		"snmp.sys_object_id": "1.3.6.1.4.1.1004849.3.2.10", "snmp.enterprise": "1004849"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("facts %v", got)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "wrong-one") {
		t.Errorf("a community reached the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "community_index=0") {
		t.Errorf("the unanswered community was not logged by position:\n%s", logs.String())
	}

	// Only a wrong community: the agent stays silent, no facts, no secret.
	logs.Reset()
	start := time.Now()
	if got := probe(t, &snmp.Prober{Communities: []string{"not-" + secret}, Port: port, Timeout: 300 * time.Millisecond, Log: log}); len(got) != 0 {
		t.Errorf("facts with a wrong community: %v", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("wrong community took %v", d)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the community reached the log:\n%s", logs.String())
	}
}

func TestCamsimSNMP(t *testing.T) {
	port := udpPort(t)
	p := camsim.Profile{Name: "s", SNMP: &camsim.SNMPProfile{Port: port, Community: secret,
		SysDescr: "Hikvision test agent", SysObjectID: ".1.3.6.1.4.1.39165.1.1"}}
	stop := camsim.Start(p, camsim.Host{IP: loopback}, nil)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	var got map[string]string
	for range 50 { // until the responder listens
		if got = probe(t, &snmp.Prober{Communities: []string{secret}, Port: port, Timeout: 100 * time.Millisecond}); len(got) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond) // an unbound port refuses at once
	}
	if got["snmp.sys_descr"] != "Hikvision test agent" || got["snmp.sys_object_id"] != "1.3.6.1.4.1.39165.1.1" ||
		got["snmp.enterprise"] != "39165" {
		t.Errorf("facts %v", got)
	}
	// camsim, like net-snmp, ignores a wrong community
	if got := probe(t, &snmp.Prober{Communities: []string{"public"}, Port: port, Timeout: 200 * time.Millisecond}); len(got) != 0 {
		t.Errorf("answered a wrong community: %v", got)
	}
}

// TestNoCommunitySendsNothing listens where an agent would be and checks a
// prober with no community configured never sends a datagram.
func TestNoCommunitySendsNothing(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	for _, p := range []*snmp.Prober{{Port: port}, {Port: port, Communities: []string{}}} {
		if got := probe(t, p); len(got) != 0 {
			t.Errorf("facts %v", got)
		}
	}
	_ = pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := pc.ReadFrom(make([]byte, 1500)); err == nil {
		t.Fatalf("a prober without a community sent %d bytes", n)
	}
}

// hostile plays an agent that answers with handle for each request.
func hostile(t *testing.T, handle func(pc net.PacketConn, req []byte, from net.Addr)) int {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			handle(pc, append([]byte(nil), buf[:n]...), from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// reply builds a GetResponse to req with the given changes.
func reply(t *testing.T, req []byte, edit func(*gosnmp.SnmpPacket)) []byte {
	t.Helper()
	g := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	in, err := g.SnmpDecodePacket(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: in.Community, PDUType: gosnmp.GetResponse, RequestID: in.RequestID,
		Variables: []gosnmp.SnmpPDU{{Name: snmp.OIDSysDescr, Type: gosnmp.OctetString, Value: []byte("real")}}}
	edit(p)
	b, err := p.MarshalMsg()
	if err != nil {
		t.Error(err)
	}
	return b
}

func TestHostileAgents(t *testing.T) {
	flood := hostile(t, func(pc net.PacketConn, req []byte, from net.Addr) {
		// forged replies (wrong request id) and junk, then the real one too late
		for i := range 50 {
			b := reply(t, req, func(p *gosnmp.SnmpPacket) { p.RequestID++; p.Variables[0].Value = []byte("forged") })
			if i%2 == 1 {
				b = bytes.Repeat([]byte{0x30, 0x84, 0xff}, 100)
			}
			pc.WriteTo(b, from)
		}
		pc.WriteTo(reply(t, req, func(*gosnmp.SnmpPacket) {}), from)
	})
	oversized := hostile(t, func(pc net.PacketConn, req []byte, from net.Addr) {
		pc.WriteTo(reply(t, req, func(p *gosnmp.SnmpPacket) { p.Variables[0].Value = bytes.Repeat([]byte("A"), 20000) }), from)
	})
	badOID := hostile(t, func(pc net.PacketConn, req []byte, from net.Addr) {
		pc.WriteTo(reply(t, req, func(p *gosnmp.SnmpPacket) {
			p.Variables = append(p.Variables, gosnmp.SnmpPDU{Name: snmp.OIDSysObjectID, Type: gosnmp.OctetString, Value: []byte("1.3.6.1.4.1.39165")})
		}), from)
	})
	otherCommunity := hostile(t, func(pc net.PacketConn, req []byte, from net.Addr) {
		pc.WriteTo(reply(t, req, func(p *gosnmp.SnmpPacket) { p.Community = "other" }), from)
	})
	slow := hostile(t, func(pc net.PacketConn, req []byte, from net.Addr) {
		time.Sleep(600 * time.Millisecond)
		pc.WriteTo(reply(t, req, func(*gosnmp.SnmpPacket) {}), from)
	})
	cases := []struct {
		name string
		port int
		want map[string]string
	}{
		{"forged flood", flood, map[string]string{}}, // the real answer comes after the datagram bound
		{"oversized", oversized, map[string]string{}},
		{"sysObjectID of the wrong type", badOID, map[string]string{"snmp.sys_descr": "real"}},
		{"other community in reply", otherCommunity, map[string]string{}},
		{"slower than the timeout", slow, map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			got := probe(t, &snmp.Prober{Communities: []string{secret}, Port: c.port, Timeout: 400 * time.Millisecond})
			if d := time.Since(start); d > 700*time.Millisecond {
				t.Errorf("took %v", d)
			}
			if len(got) != len(c.want) {
				t.Errorf("facts %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s=%q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestEnterprise(t *testing.T) {
	for oid, want := range map[string]string{"1.3.6.1.4.1.39165.1.1": "39165", "1.3.6.1.4.1.2011": "2011",
		"1.3.6.1.4.1.0368.1": "368", "1.3.6.1.2.1.1": "", "1.3.6.1.4.1.": "", "1.3.6.1.4.1.99999999999": ""} {
		got, _ := snmp.Enterprise(oid)
		if got != want {
			t.Errorf("%s: %q, want %q", oid, got, want)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "c", PDUType: gosnmp.GetResponse, RequestID: 7,
		Variables: []gosnmp.SnmpPDU{{Name: snmp.OIDSysDescr, Type: gosnmp.OctetString, Value: []byte("x")},
			{Name: snmp.OIDSysObjectID, Type: gosnmp.ObjectIdentifier, Value: "1.3.6.1.4.1.39165.1.1"}}}
	b, err := p.MarshalMsg()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	p.PDUType = gosnmp.GetRequest
	b, _ = p.MarshalMsg()
	f.Add(b)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03})
	r := &snmp.Responder{Community: "c", SysDescr: "d", SysObjectID: "1.3.6.1.4.1.368"}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = r.Answer(b)
		p, err := snmp.ParseResponse(b)
		if err != nil {
			return
		}
		for _, fact := range snmp.Facts(p.Variables) {
			if len(fact.Value) > probes.MaxFactValue {
				t.Fatalf("%s of %d bytes", fact.Key, len(fact.Value))
			}
			if fact.Key == "snmp.sys_object_id" && strings.Trim(fact.Value, "0123456789.") != "" {
				t.Fatalf("sys_object_id %q", fact.Value)
			}
		}
	})
}
