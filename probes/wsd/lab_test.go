//go:build linux

package wsd_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/onvif"
	. "github.com/camwarden/camwarden/probes/wsd"
	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/wsdd*_*.xml from the real peers")

var labSubnet = netip.MustParsePrefix("198.18.1.0/24")

func labLink(t *testing.T, h *lab.Host) probes.Link {
	t.Helper()
	ifi, err := h.Interface()
	if err != nil {
		t.Fatal(err)
	}
	return probes.Link{Iface: ifi, Addr: h.Addr.Addr(), Subnets: []netip.Prefix{labSubnet}}
}

// discoverIn runs the Discoverer inside h's namespace (its socket is opened
// there; the goroutines it starts only use that socket).
func discoverIn(t *testing.T, h *lab.Host, d *Discoverer) []probes.Observation {
	t.Helper()
	link := labLink(t, h)
	var col collector
	if err := h.Do(func() error { return d.Discover(context.Background(), link, col.emit) }); err != nil {
		t.Fatal(err)
	}
	return col.obs
}

// groupConn opens a UDP socket on :3702 in h joined to the discovery group.
func groupConn(t *testing.T, h *lab.Host) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		c, err = net.ListenUDP("udp4", &net.UDPAddr{Port: Port})
		if err != nil {
			return err
		}
		pc := ipv4.NewPacketConn(c)
		if err := pc.JoinGroup(ifi, &net.UDPAddr{IP: net.ParseIP(Group)}); err != nil {
			return err
		}
		return pc.SetMulticastInterface(ifi)
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// camera runs a Responder in h's namespace.
func camera(t *testing.T, h *lab.Host, r *Responder) {
	t.Helper()
	c := groupConn(t, h)
	if r.ReplyFrom != nil {
		r.ReplyFrom = func() (net.PacketConn, error) {
			var pc net.PacketConn
			err := h.Do(func() (err error) {
				pc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.Addr.Addr(), 0)))
				return err
			})
			return pc, err
		}
	}
	if err := r.Hello(c, &net.UDPAddr{IP: net.ParseIP(Group), Port: Port}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("responder in %s: %v", h.Name, err)
		}
	})
}

func hikTarget(mac net.HardwareAddr, ip netip.Addr) Target {
	m := strings.ReplaceAll(mac.String(), ":", "")
	return Target{
		Address: "urn:uuid:3fa1fe68-b915-4053-a3e1-" + m,
		Types:   "dn:NetworkVideoTransmitter tds:Device",
		Scopes:  []string{"onvif://www.onvif.org/MAC/" + m, "onvif://www.onvif.org/hardware/DS-2CD2385G1-I", "onvif://www.onvif.org/name/HIKVISION"},
		XAddrs:  []string{"http://" + ip.String() + "/onvif/device_service"},
	}
}

// Two cameras and the appliance on one bridge, IGMP snooping on: the
// multicast Probe reaches both, one answers twice from ephemeral ports and
// is reported once, the other answers only the typed Probe; a passive
// listener that joined the group hears the Hellos.
func TestLabMulticastDiscovery(t *testing.T) {
	n := labtest.Net(t, "cwtow")
	if err := n.SetSnooping(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	app := labtest.Host(t, n, "app", 1, nil)
	hik := labtest.Host(t, n, "hik", 2, net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0, 2})
	dah := labtest.Host(t, n, "dah", 3, net.HardwareAddr{0x3c, 0xef, 0x8c, 0xc4, 0, 3})

	listen := groupConn(t, app) // passive side: joined, so snooping forwards to it
	camera(t, hik, &Responder{Target: hikTarget(hik.MAC, hik.Addr.Addr()), Twice: true, MaxDelay: 50 * time.Millisecond,
		ReplyFrom: func() (net.PacketConn, error) { return nil, errors.New("replaced by camera()") }})
	dt := hikTarget(dah.MAC, dah.Addr.Addr())
	dt.Address = "uuid:a01e2a1c-71a0-4b6a-b0c4-" + strings.ReplaceAll(dah.MAC.String(), ":", "")
	camera(t, dah, &Responder{Target: dt, OnlyNVT: true})

	// Hellos from both cameras, decoded as the capture layer would hand them over.
	listen.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, MaxMessage)
	var hellos collector
	for len(hellos.obs) < 2 {
		k, from, err := listen.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("hellos: got %d: %v", len(hellos.obs), err)
		}
		f := &probes.Frame{SrcIP: from.Addr().Unmap(), IPProto: probes.ProtoUDP, SrcPort: from.Port(), DstPort: Port, Payload: buf[:k]}
		if err := (Decoder{}).Decode(f, hellos.emit); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range hellos.obs {
		if factMap(o.Facts)["wsd.msg"][0] != "hello" {
			t.Errorf("passive: %+v", o)
		}
	}

	start := time.Now()
	obs := discoverIn(t, app, &Discoverer{Wait: time.Second})
	el := time.Since(start)
	byIP := map[netip.Addr]probes.Observation{}
	for _, o := range obs {
		if _, dup := byIP[o.IP]; dup {
			t.Errorf("duplicate observation for %s", o.IP)
		}
		byIP[o.IP] = o
	}
	if len(byIP) != 2 {
		t.Fatalf("got %d hosts, want 2: %+v", len(byIP), obs)
	}
	if f := factMap(byIP[hik.Addr.Addr()].Facts); f["wsd.mac"][0] != hik.MAC.String() || f["wsd.xaddr"][0] != "http://198.18.1.2/onvif/device_service" {
		t.Errorf("hik facts %v", f)
	}
	if f := factMap(byIP[dah.Addr.Addr()].Facts); f["wsd.mac"][0] != dah.MAC.String() {
		t.Errorf("dahua facts %v", f)
	}
	t.Logf("multicast discovery of 2 cameras took %v (3 probe variants x 3 sends, wait 1s)", el)
}

// peer starts a real third-party daemon in h and kills it by PID at the end.
func peer(t *testing.T, h *lab.Host, name string, args ...string) {
	t.Helper()
	labtest.RequireBinary(t, name)
	cmd := h.Command(context.Background(), name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// ip netns exec execs the daemon, so the PID is the daemon's.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	time.Sleep(time.Second)
	if cmd.ProcessState != nil {
		t.Fatalf("%s exited: %s", name, out.String())
	}
}

// rawProbe sends one Probe from h and returns every datagram answering it.
func rawProbe(t *testing.T, h *lab.Host, types ...xml.Name) [][]byte {
	t.Helper()
	var c *net.UDPConn
	if err := h.Do(func() (err error) {
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.Addr.Addr(), 0)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteToUDP(BuildProbe(NewMessageID(), types...), &net.UDPAddr{IP: net.ParseIP(Group), Port: Port}); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	buf := make([]byte, MaxMessage)
	for {
		k, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return out
		}
		out = append(out, append([]byte(nil), buf[:k]...))
	}
}

// inNSClient dials from inside h's namespace: net/http dials on its own
// goroutines, which would otherwise run in the host's namespace.
func inNSClient(h *lab.Host) *http.Client {
	c := onvif.NewHTTPClient()
	tr := c.Transport.(*http.Transport)
	d := &net.Dialer{Timeout: 2 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := h.Do(func() (err error) {
			conn, err = d.DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return c
}

func writeGolden(t *testing.T, name string, b []byte) {
	if !*updateGolden {
		return
	}
	if err := os.WriteFile("testdata/"+name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// notACamera checks that the ONVIF prober, aimed at a non-camera's XAddr,
// fails cleanly and fast without reporting anything.
func notACamera(t *testing.T, app *lab.Host, o probes.Observation) {
	t.Helper()
	p := &onvif.Prober{HTTP: inNSClient(app), Timeout: 2 * time.Second, Creds: []onvif.Credential{{User: "admin", Password: "x"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []probes.Observation
	start := time.Now()
	err := p.Probe(ctx, probes.Target{IP: o.IP, Facts: o.Facts}, func(ob probes.Observation) { got = append(got, ob) })
	if err == nil || len(got) != 0 {
		t.Fatalf("ONVIF prober against a non-camera: err %v, observations %+v", err, got)
	}
	t.Logf("ONVIF prober against %s failed cleanly in %v: %v", o.IP, time.Since(start).Round(time.Millisecond), err)
}

// Debian's wsdd is a real WS-Discovery host that is not a camera: it is
// found (it answers wsdp:Device), its types say pub:Computer, and the ONVIF
// prober aimed at its XAddr gives up cleanly.
func TestLabWsdd(t *testing.T) {
	labtest.RequireBinary(t, "/usr/sbin/wsdd")
	n := labtest.Net(t, "cwtow")
	app := labtest.Host(t, n, "app", 1, nil)
	pc := labtest.Host(t, n, "wsdd", 4, nil)
	passive := groupConn(t, app) // joined before wsdd starts, to hear its Hello
	peer(t, pc, "/usr/sbin/wsdd", "-i", "eth0", "-4", "-n", "CWTOW-PC", "-U", "6a1c8f52-0d6b-4f1e-9d1a-4c1d0e5f0004", "-s", "-v")

	var raw [][]byte
	for i := 0; i < 5 && len(raw) == 0; i++ { // python starts slowly on a loaded box; bounded wait
		raw = rawProbe(t, app, TypeDPWSDev)
	}
	if len(raw) == 0 {
		t.Fatal("wsdd did not answer a wsdp:Device probe")
	}
	writeGolden(t, "wsdd_probematch.xml", raw[0])
	if len(raw) < 2 {
		t.Logf("wsdd sent the ProbeMatch %d time(s)", len(raw))
	}
	if none := rawProbe(t, app, TypeNVT); len(none) != 0 {
		t.Errorf("wsdd answered an NVT probe: %s", none[0])
	}

	obs := discoverIn(t, app, &Discoverer{Wait: time.Second})
	if len(obs) != 1 {
		t.Fatalf("got %d observations, want wsdd once: %+v", len(obs), obs)
	}
	f := factMap(obs[0].Facts)
	t.Logf("wsdd facts: %v", f)
	if !strings.Contains(f["wsd.types"][0], "Computer") || strings.Contains(f["wsd.types"][0], "NetworkVideoTransmitter") {
		t.Errorf("wsdd types %q", f["wsd.types"])
	}
	if f["wsd.endpoint"][0] != "urn:uuid:6a1c8f52-0d6b-4f1e-9d1a-4c1d0e5f0004" || f["wsd.mac"] != nil {
		t.Errorf("wsdd facts %v", f)
	}
	// wsdd 0.7 sends no XAddrs in ProbeMatch (only in Hello and
	// ResolveMatch), so the prober falls back to port 80; then aim it at
	// the metadata endpoint wsdd's Hello announced, as the appliance would
	// once the passive decoder has heard it.
	notACamera(t, app, obs[0])
	var hello collector
	passive.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, MaxMessage)
	for len(hello.obs) == 0 {
		k, from, err := passive.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no Hello from wsdd heard: %v", err)
		}
		m, err := Parse(buf[:k])
		if err != nil || m.Kind != KindHello || from.Addr().Unmap() != pc.Addr.Addr() {
			continue
		}
		writeGolden(t, "wsdd_hello.xml", buf[:k])
		f := &probes.Frame{SrcIP: from.Addr().Unmap(), IPProto: probes.ProtoUDP, SrcPort: from.Port(), DstPort: Port, Payload: buf[:k]}
		if err := (Decoder{}).Decode(f, hello.emit); err != nil {
			t.Fatal(err)
		}
	}
	hf := factMap(hello.obs[0].Facts)
	t.Logf("wsdd Hello facts: %v", hf)
	if hf["wsd.msg"][0] != "hello" || len(hf["wsd.xaddr"]) != 1 {
		t.Fatalf("wsdd hello facts %v", hf)
	}
	o := obs[0]
	o.Facts = append(o.Facts, probes.F("wsd.xaddr", hf["wsd.xaddr"][0]))
	notACamera(t, app, o)
}

// wsdd2 with -b vendor/model answers any Probe, including the NVT one: a
// spoofing case. What it yields is recorded; it must not pass for an ONVIF
// device service.
func TestLabWsdd2Spoof(t *testing.T) {
	labtest.RequireBinary(t, "/usr/sbin/wsdd2")
	n := labtest.Net(t, "cwtow")
	app := labtest.Host(t, n, "app", 1, nil)
	w2 := labtest.Host(t, n, "wsdd2", 5, nil)
	peer(t, w2, "/usr/sbin/wsdd2", "-4", "-w", "-i", "eth0", "-H", "CWTOW-W2", "-N", "CWTOW-W2", "-G", "WORKGROUP",
		"-W", "-b", "vendor:HIKVISION,model:DS-2CD2385G1-I,serial:SPOOF123")

	var raw [][]byte
	for i := 0; i < 5 && len(raw) == 0; i++ { // wait for the daemon, bounded
		raw = rawProbe(t, app, TypeNVT)
	}
	if len(raw) == 0 {
		t.Fatal("wsdd2 did not answer an NVT probe")
	}
	writeGolden(t, "wsdd2_probematch.xml", raw[0])
	obs := discoverIn(t, app, &Discoverer{Wait: time.Second})
	if len(obs) != 1 {
		t.Fatalf("got %d observations, want wsdd2 once: %+v", len(obs), obs)
	}
	f := factMap(obs[0].Facts)
	t.Logf("wsdd2 (spoofing HIKVISION via -b) facts: %v", f)
	if fmt.Sprint(f["wsd.name"], f["wsd.hardware"]) != "[] []" {
		t.Errorf("wsdd2 should not yield ONVIF name/hardware scopes: %v", f)
	}
	notACamera(t, app, obs[0])
}

type collector struct {
	mu  sync.Mutex
	obs []probes.Observation
}

func (c *collector) emit(o probes.Observation) {
	c.mu.Lock()
	c.obs = append(c.obs, o)
	c.mu.Unlock()
}

func factMap(fs []probes.Fact) map[string][]string {
	m := map[string][]string{}
	for _, f := range fs {
		m[f.Key] = append(m[f.Key], f.Value)
	}
	return m
}
