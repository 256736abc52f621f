package camsim

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/ftp"
	"github.com/camwarden/camwarden/probes/snmp"
	"github.com/camwarden/camwarden/probes/telnet"
)

// TestServeGreetingsFromYAML writes the telnet, ftp and snmp sections the
// way a profile file (or the replay lab) does and reads each back with its
// prober: what the profile says is what the prober reports.
func TestServeGreetingsFromYAML(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	off, err := FreeOffset(telnet.DefaultPort, ftp.DefaultPort)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ParseProfiles([]byte(`profiles:
  - name: greeter
    telnet: {banner: "192.0.0.64 login:"}
    ftp: {banner: "Welcome to Network Camera FTP Server"}
    # the SNMP port is offset like every other port of the host
    snmp: {port: `+strconv.Itoa(udp-off)+`, community: lab-ro, sys_descr: "Hikvision {model}", sys_object_id: .1.3.6.1.4.1.39165.1.1}
    model: DS-2CD2385G1-I
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"ftp", "snmp", "telnet"} {
		if !slices.Contains(ps[0].Services(), svc) {
			t.Fatalf("services %v lack %s", ps[0].Services(), svc)
		}
	}
	lo := netip.MustParseAddr("127.0.0.1")
	h := Host{IP: lo, PortOffset: off}
	stop := Start(ps[0], h, nil)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	if err := WaitListening(h, 2*time.Second, telnet.DefaultPort, ftp.DefaultPort); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	emit := func(o probes.Observation) {
		for _, f := range o.Facts {
			got[f.Key] = f.Value
		}
	}
	ctx := context.Background()
	tg := probes.Target{IP: lo}
	_ = (&telnet.Prober{Port: h.Port(telnet.DefaultPort)}).Probe(ctx, tg, emit)
	_ = (&ftp.Prober{Port: h.Port(ftp.DefaultPort)}).Probe(ctx, tg, emit)
	sp := &snmp.Prober{Communities: []string{"lab-ro"}, Port: udp, Timeout: 200 * time.Millisecond}
	for range 50 {
		if _ = sp.Probe(ctx, tg, emit); got["snmp.sys_descr"] != "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := map[string]string{
		"telnet.banner": "192.0.0.64 login:", "ftp.banner": "Welcome to Network Camera FTP Server",
		"snmp.sys_descr": "Hikvision DS-2CD2385G1-I", "snmp.sys_object_id": "1.3.6.1.4.1.39165.1.1", "snmp.enterprise": "39165",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
