//go:build linux

package camsim_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/onvif"
	"github.com/camwarden/camwarden/probes/wsd"
	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLabChildCamsim is not a test: TestLabWSDAndONVIF re-runs the test
// binary inside a lab namespace with this test selected, so a whole camsim
// device (every socket and goroutine) lives in that namespace.
func TestLabChildCamsim(t *testing.T) {
	name := os.Getenv("CWTOW_CAMSIM_PROFILE")
	if name == "" {
		t.Skip("helper process for TestLabWSDAndONVIF")
	}
	full, err := camsim.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	// Only the sections under test, so the device does not depend on
	// every other responder.
	p := camsim.Profile{Name: full.Name, Model: full.Model, Serial: full.Serial, Firmware: full.Firmware, OUI: full.OUI, HTTP: full.HTTP, ONVIF: full.ONVIF, WSD: full.WSD}
	if os.Getenv("CWTOW_CAMSIM_TWICE") != "" {
		w := *p.WSD
		w.Twice, w.EphemeralReply = true, true
		p.WSD = &w
	}
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	h := camsim.Host{Iface: "eth0", MAC: ifi.HardwareAddr, IP: netip.MustParseAddr(os.Getenv("CWTOW_CAMSIM_IP"))}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := camsim.Run(ctx, p, h, log); err != nil {
		t.Fatal(err)
	}
}

func startDevice(t *testing.T, h *lab.Host, profile string, twice bool) {
	t.Helper()
	cmd := h.Command(context.Background(), os.Args[0], "-test.run=^TestLabChildCamsim$")
	cmd.Env = append(os.Environ(), "CWTOW_CAMSIM_PROFILE="+profile, "CWTOW_CAMSIM_IP="+h.Addr.Addr().String())
	if twice {
		cmd.Env = append(cmd.Env, "CWTOW_CAMSIM_TWICE=1")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s device output:\n%s", profile, out.String())
		}
	})
}

func nsHTTPClient(h *lab.Host) *http.Client {
	c := onvif.NewHTTPClient()
	d := &net.Dialer{Timeout: 2 * time.Second}
	c.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := h.Do(func() (err error) { conn, err = d.DialContext(ctx, network, addr); return err })
		return conn, err
	}
	return c
}

func facts(fs []probes.Fact) map[string][]string {
	m := map[string][]string{}
	for _, f := range fs {
		m[f.Key] = append(m[f.Key], f.Value)
	}
	return m
}

// Emulated cameras in their own namespaces, as `make demo` runs them: the
// appliance hears their Hellos, finds them by multicast Probe (one answers
// twice from ephemeral ports, one answers only the NVT-typed Probe), and
// follows each XAddr to the ONVIF device service mounted on the camera's
// web server, authenticating the way that camera wants.
func TestLabWSDAndONVIF(t *testing.T) {
	n := labtest.Net(t, "cwtowc")
	hikP, _ := camsim.Lookup("hikvision")
	dahP, _ := camsim.Lookup("dahua")
	app := labtest.Host(t, n, "app", 1, nil)
	hik := labtest.Host(t, n, "hik", 10, hikP.MAC(1))
	dah := labtest.Host(t, n, "dah", 20, dahP.MAC(1))

	var passive *net.UDPConn
	if err := app.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		passive, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.ParseIP(wsd.Group), Port: wsd.Port})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer passive.Close()

	startDevice(t, hik, "hikvision", true)
	startDevice(t, dah, "dahua", false)

	// Hellos, as the passive decoder sees them.
	hellos := map[netip.Addr]bool{}
	passive.SetReadDeadline(time.Now().Add(15 * time.Second))
	buf := make([]byte, wsd.MaxMessage)
	for len(hellos) < 2 {
		k, from, err := passive.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("hellos heard from %v: %v", hellos, err)
		}
		f := &probes.Frame{SrcIP: from.Addr().Unmap(), IPProto: probes.ProtoUDP, SrcPort: from.Port(), DstPort: wsd.Port, Payload: buf[:k]}
		_ = (wsd.Decoder{}).Decode(f, func(o probes.Observation) {
			if facts(o.Facts)["wsd.msg"][0] == "hello" {
				hellos[o.IP] = true
			}
		})
	}

	ifi, err := app.Interface()
	if err != nil {
		t.Fatal(err)
	}
	link := probes.Link{Iface: ifi, Addr: app.Addr.Addr(), Subnets: []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24")}}
	var obs []probes.Observation
	if err := app.Do(func() error {
		return (&wsd.Discoverer{Wait: time.Second}).Discover(context.Background(), link, func(o probes.Observation) { obs = append(obs, o) })
	}); err != nil {
		t.Fatal(err)
	}
	byIP := map[netip.Addr]probes.Observation{}
	for _, o := range obs {
		if _, dup := byIP[o.IP]; dup {
			t.Errorf("%s reported twice", o.IP)
		}
		byIP[o.IP] = o
	}
	if len(byIP) != 2 {
		t.Fatalf("discovered %d devices, want 2: %+v", len(byIP), obs)
	}
	if f := facts(byIP[hik.Addr.Addr()].Facts); !slices.Equal(f["wsd.mac"], []string{hik.MAC.String()}) ||
		!slices.Equal(f["wsd.xaddr"], []string{"http://198.18.1.10/onvif/device_service"}) {
		t.Errorf("hikvision wsd facts %v", f)
	}

	cases := []struct {
		h            *lab.Host
		creds        []onvif.Credential
		manufacturer string
		auth         string
		offset       string
	}{
		{hik, []onvif.Credential{{User: "admin", Password: "Hik12345!"}}, "HIKVISION", "wsse", "3h0m0s"},
		{dah, []onvif.Credential{{User: "admin", Password: "wrong"}, {User: "admin", Password: "Dahua123!"}}, "Dahua", "digest", "0s"},
	}
	for _, c := range cases {
		o := byIP[c.h.Addr.Addr()]
		p := &onvif.Prober{Creds: c.creds, HTTP: nsHTTPClient(app), Timeout: 3 * time.Second}
		var got []probes.Observation
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := p.Probe(ctx, probes.Target{IP: o.IP, Facts: o.Facts}, func(ob probes.Observation) { got = append(got, ob) })
		cancel()
		if err != nil || len(got) != 1 {
			t.Fatalf("onvif probe of %s: %v (%d observations)", c.h.Name, err, len(got))
		}
		f := facts(got[0].Facts)
		if !slices.Equal(f["onvif.manufacturer"], []string{c.manufacturer}) || !slices.Equal(f["onvif.auth"], []string{c.auth}) ||
			!slices.Equal(f["onvif.clock_offset"], []string{c.offset}) || !slices.Equal(f["onvif.mac"], []string{c.h.MAC.String()}) {
			t.Errorf("%s onvif facts %v", c.h.Name, f)
		}
	}
}
