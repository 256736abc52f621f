package ssdp_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest/labdisc"
	"github.com/camwarden/camwarden/probes/ssdp"
	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// discoverFrom runs d from app's namespace. Sockets are opened
// synchronously inside Discover, hence in app's namespace; description
// fetches dial from goroutines, which are not, so the fetcher dials through
// a socket opened in the namespace.
func discoverFrom(t *testing.T, app *lab.Host, d *ssdp.Discoverer) []probes.Observation {
	t.Helper()
	if d.Fetcher == nil {
		d.Fetcher = nsFetcher(app)
	}
	return labdisc.Discover(t, app, d)
}

// nsFetcher is an ssdp.HTTPFetcher whose connections are made inside h's
// namespace.
func nsFetcher(h *lab.Host) *ssdp.HTTPFetcher {
	f := ssdp.NewHTTPFetcher()
	f.Client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := h.Do(func() (err error) {
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return f
}

// TestLabMulticastResponder proves M-SEARCH to the real group reaches the
// emulated device and its description is fetched from its own address.
func TestLabMulticastResponder(t *testing.T) {
	n := labtest.Net(t, "cwtudu")
	app := labtest.Host(t, n, "app", 2, nil)
	cam := labtest.Host(t, n, "cam", 40, net.HardwareAddr{0xac, 0xcc, 0x8e, 0xc4, 0, 1})
	r := &ssdp.Responder{UUID: "Axis-accc8ec40001", Server: "Linux/5.15, UPnP/1.0, Portable SDK for UPnP devices/1.14.13",
		Location: "http://198.18.1.40:49152/description.xml", Description: axisDescription(),
		NotifyTo: &net.UDPAddr{IP: ssdp.Group, Port: ssdp.Port}}
	var ln net.Listener
	if err := cam.Do(func() (err error) { ln, err = net.Listen("tcp4", "198.18.1.40:49152"); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	labdisc.ServeIn(t, cam, func(ifi *net.Interface) (net.PacketConn, error) {
		return ssdp.ListenGroup(ifi, ssdp.Group, ssdp.Port)
	}, r.Serve)

	obs := discoverFrom(t, app, &ssdp.Discoverer{Options: ssdp.Options{Timeout: time.Second}})
	if len(obs) != 1 || obs[0].IP != cam.Addr.Addr() {
		t.Fatalf("%+v", obs)
	}
	if m := factMap(obs[0].Facts); m["upnp.manufacturer"] != "AXIS" || m["ssdp.location"] != r.Location {
		t.Errorf("facts %v", m)
	}
}

// TestLabMiniupnpd runs the real Debian miniupnpd (an IGD, not a camera) in
// a namespace with an internal (eth0, on the lab bridge) and an external
// (ext0, a veth to nowhere) interface and discovers it.
func TestLabMiniupnpd(t *testing.T) {
	labtest.RequireBinary(t, "/usr/sbin/miniupnpd")
	n := labtest.Net(t, "cwtudm")
	app := labtest.Host(t, n, "app", 2, nil)
	igd := labtest.Host(t, n, "igd", 30, nil)
	ctx := context.Background()
	for _, args := range [][]string{
		{"-n", igd.NS, "link", "add", "ext0", "type", "veth", "peer", "name", "ext0p"},
		{"-n", igd.NS, "link", "set", "ext0", "up"},
		{"-n", igd.NS, "link", "set", "ext0p", "up"},
		{"-n", igd.NS, "addr", "add", "198.19.2.30/24", "dev", "ext0"},
		{"-n", igd.NS, "route", "add", "default", "via", "198.19.2.1", "dev", "ext0"},
	} {
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "miniupnpd.conf")
	if err := os.WriteFile(conf, []byte(`ext_ifname=ext0
listening_ip=eth0
port=5555
enable_natpmp=no
enable_upnp=yes
uuid=00000000-0000-1000-8000-00c0ffee0001
friendly_name=CW Test Router
manufacturer_name=CamwardenTest
model_name=MiniUPnP Lab
model_number=2.3.1
serial=SN-LAB-0001
secure_mode=yes
notify_interval=60
lease_file=`+filepath.Join(dir, "leases")+`
allow 1024-65535 198.18.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := igd.Command(ctx, "/usr/sbin/miniupnpd", "-d", "-f", conf, "-P", filepath.Join(dir, "pid"))
	out, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by PID: the process we started
		_ = cmd.Wait()
		out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Logf("miniupnpd log:\n%s", b)
		}
	})
	// Wait (bounded) for its HTTP port.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := app.Do(func() error {
			c, err := net.DialTimeout("tcp4", "198.18.1.30:5555", 200*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("miniupnpd did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	obs := discoverFrom(t, app, &ssdp.Discoverer{Options: ssdp.Options{Timeout: 2 * time.Second}})
	t.Logf("discovery took %v", time.Since(start))
	if len(obs) != 1 || obs[0].IP != igd.Addr.Addr() {
		t.Fatalf("%+v", obs)
	}
	m := factMap(obs[0].Facts)
	want := map[string]string{
		"upnp.manufacturer":  "CamwardenTest",
		"upnp.model_name":    "MiniUPnP Lab",
		"upnp.friendly_name": "CW Test Router",
		"upnp.device_type":   "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
		"ssdp.location":      "http://198.18.1.30:5555/rootDesc.xml",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, m[k], v, m)
		}
	}
	if s := m["ssdp.server"]; !strings.Contains(s, "MiniUPnPd/") {
		t.Errorf("server %q", s)
	}
	// The unicast prober finds it too.
	emit, got := collectObs()
	p := &ssdp.Prober{Options: ssdp.Options{Timeout: time.Second, Sends: 1, Fetcher: nsFetcher(app)}}
	if err := app.Do(func() error { return p.Probe(ctx, probes.Target{IP: igd.Addr.Addr()}, emit) }); err != nil {
		t.Fatal(err)
	}
	if len(got()) != 1 || factMap(got()[0].Facts)["upnp.serial"] == "" {
		t.Errorf("unicast: %+v", got())
	}
}

var (
	collectObs = udpdisctest.Sink
	factMap    = udpdisctest.FactMap
)

func axisDescription() ssdp.Description {
	return ssdp.Description{Device: ssdp.Device{
		DeviceType: "urn:axis-com:service:BasicService:1", FriendlyName: "AXIS P3245-LVE - ACCC8E123456",
		Manufacturer: "AXIS", ModelName: "AXIS P3245-LVE", ModelNumber: "P3245-LVE", SerialNumber: "ACCC8E123456",
		UDN: "uuid:Axis-accc8ec40001",
	}}
}
