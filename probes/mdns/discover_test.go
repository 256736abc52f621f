package mdns_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/mdns"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

type collector struct {
	mu  sync.Mutex
	obs []probes.Observation
}

func (c *collector) sink(o probes.Observation) { c.mu.Lock(); c.obs = append(c.obs, o); c.mu.Unlock() }

func (c *collector) values(ip netip.Addr, key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var v []string
	for _, o := range c.obs {
		if o.IP != ip {
			continue
		}
		for _, f := range o.Facts {
			if f.Key == key && !slices.Contains(v, f.Value) {
				v = append(v, f.Value)
			}
		}
	}
	slices.Sort(v)
	return v
}

// TestDiscoverCamsimLoopback: the Discoverer's query answered unicast by
// the axis profile's responder on 127.0.0.1 (no multicast leaves the host).
func TestDiscoverCamsimLoopback(t *testing.T) {
	p, err := camsim.Lookup("axis")
	if err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	var h camsim.Host
	for range 20 {
		off, err := camsim.FreeOffset(80)
		if err != nil {
			t.Fatal(err)
		}
		h = camsim.Host{IP: lo, MAC: p.MAC(1), PortOffset: off}
		pc, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", h.Port(mdns.Port)))
		if err == nil {
			pc.Close()
			break
		}
	}
	stop := camsim.Start(p, h, nil)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(50 * time.Millisecond) // let the responder bind
	var c collector
	d := &mdns.Discoverer{Dest: netip.AddrPortFrom(lo, uint16(h.Port(mdns.Port)))}
	dctx, dcancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer dcancel()
	start := time.Now()
	if err := d.Discover(dctx, probes.Link{Addr: lo, Subnets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, c.sink); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Discover ran %v past ctx", el)
	}
	if got, want := c.values(lo, "mdns.instance"), []string{"AXIS P3245-LVE - ACCC8E123456"}; !slices.Equal(got, want) {
		t.Errorf("instance %q, want %q", got, want)
	}
	if got, want := c.values(lo, "mdns.service"), []string{"_axis-video._tcp", "_http._tcp"}; !slices.Equal(got, want) {
		t.Errorf("service %q, want %q", got, want)
	}
	if got, want := c.values(lo, "mdns.txt"), []string{"macaddress=ACCC8EC40001"}; !slices.Equal(got, want) {
		t.Errorf("txt %q, want %q", got, want)
	}
	if got, want := c.values(lo, "mdns.hostname"), []string{"axis-accc8e123456"}; !slices.Equal(got, want) {
		t.Errorf("hostname %q, want %q", got, want)
	}
}

const avahiConf = `[server]
host-name=cwtbn-avahi
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
[reflector]
enable-reflector=no
`

const avahiService = `<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name>HIKVISION DS-2CD2385G1-I - 12345</name>
  <service><type>_http._tcp</type><port>80</port><txt-record>model=DS-2CD2385G1-I</txt-record></service>
  <service><type>_rtsp._tcp</type><port>554</port></service>
</service-group>
`

// TestDiscoverAvahiLab asks a real avahi-daemon in a lab namespace, and
// decodes its multicast announcement passively.
func TestDiscoverAvahiLab(t *testing.T) {
	labtest.RequireBinary(t, "/usr/sbin/avahi-daemon")
	n := labtest.Net(t, "cwtbn")
	av := labtest.Host(t, n, "av", 20, nil)
	ap := labtest.Host(t, n, "ap", 21, nil)

	dir := t.TempDir()
	conf := filepath.Join(dir, "avahi-daemon.conf")
	svcDir := filepath.Join(dir, "services")
	if err := os.WriteFile(conf, []byte(avahiConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(svcDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(svcDir, "cam.service"), []byte(avahiService), 0o644); err != nil {
		t.Fatal(err)
	}
	// ip netns exec runs in its own mount namespace, so these mounts stay
	// private: avahi gets its own /run/avahi-daemon (pid file, socket) and
	// reads our service file instead of the machine's.
	script := fmt.Sprintf("mount -t tmpfs tmpfs /run/avahi-daemon && mount --bind %s /etc/avahi/services && exec /usr/sbin/avahi-daemon --no-drop-root --no-chroot --no-rlimits --no-proc-title -f %s", svcDir, conf)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := av.Command(ctx, "sh", "-c", script)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := os.MkdirAll("/run/avahi-daemon", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel() // kills the process we started, by PID
		_ = cmd.Wait()
		t.Logf("avahi-daemon output:\n%s", out.String())
	})

	ifi, err := ap.Interface()
	if err != nil {
		t.Fatal(err)
	}
	link := probes.Link{Iface: ifi, Addr: ap.Addr.Addr(), Subnets: []netip.Prefix{ap.Addr.Masked()}}
	var c collector
	avIP := av.Addr.Addr()
	// avahi probes its names for a few seconds before it answers, and may
	// answer the service PTR before its host name (SRV, TXT) is registered:
	// ask again until every fact checked below has arrived.
	complete := func() bool {
		for _, k := range []string{"mdns.instance", "mdns.hostname", "mdns.txt"} {
			if len(c.values(avIP, k)) == 0 {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && !complete() {
		err := ap.Do(func() error {
			dctx, dcancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer dcancel()
			return (&mdns.Discoverer{}).Discover(dctx, link, c.sink)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := c.values(avIP, "mdns.instance"), []string{"HIKVISION DS-2CD2385G1-I - 12345"}; !slices.Equal(got, want) {
		t.Fatalf("instance %q, want %q", got, want)
	}
	if got, want := c.values(avIP, "mdns.service"), []string{"_http._tcp", "_rtsp._tcp"}; !slices.Equal(got, want) {
		t.Errorf("service %q, want %q", got, want)
	}
	if got := c.values(avIP, "mdns.hostname"); !slices.Equal(got, []string{"cwtbn-avahi"}) {
		t.Errorf("hostname %q", got)
	}
	if got := c.values(avIP, "mdns.txt"); !slices.Contains(got, "model=DS-2CD2385G1-I") {
		t.Errorf("txt %q", got)
	}
}
