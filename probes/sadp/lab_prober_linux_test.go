package sadp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest"
	"github.com/camwarden/camwarden/probes/internal/udpdisc/udpdisctest/labdisc"
	"github.com/camwarden/camwarden/probes/sadp"
	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestLabChildCamsim is not a test: labdisc.StartCamsim re-runs the test
// binary inside a lab namespace with this test selected.
func TestLabChildCamsim(t *testing.T) { labdisc.CamsimChild(t) }

// probeFrom runs p against target from app's namespace and returns what it
// emitted and its error.
func probeFrom(t *testing.T, app *lab.Host, p probes.Prober, target probes.Target) ([]probes.Observation, error) {
	t.Helper()
	emit, got := udpdisctest.Sink()
	err := app.Do(func() error { return p.Probe(context.Background(), target, emit) })
	return got(), err
}

// probeUntil retries a probe while the device starts (camsim runs in a
// child process and opens its sockets after the test has begun), for at
// most five seconds.
func probeUntil(t *testing.T, app *lab.Host, p probes.Prober, target probes.Target) []probes.Observation {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		obs, err := probeFrom(t, app, p, target)
		if err == nil {
			return obs
		}
		if time.Now().After(deadline) {
			t.Fatalf("probe %s: %v", target.IP, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A device that comes up after the last sweep is asked by SADP itself: the
// unicast Prober, run against camsim's Hikvision in the lab, gets camsim's
// answer (which camsim sends to the group) and attributes it to the
// camera's address alone.
func TestLabProberCamsim(t *testing.T) {
	n := labtest.Net(t, "cwtsp")
	full, err := camsim.Lookup("hikvision")
	if err != nil {
		t.Fatal(err)
	}
	oui, _ := net.ParseMAC(full.OUI + ":00:00:01")
	mac := net.HardwareAddr{oui[0], oui[1], oui[2], 0xc4, 0x5a, 0x01}
	cam := labtest.Host(t, n, "cam", 10, mac)
	app := labtest.Host(t, n, "app", 2, nil)
	labdisc.StartCamsim(t, cam, "TestLabChildCamsim", "hikvision", "sadp")

	obs := probeUntil(t, app, &sadp.Prober{Timeout: time.Second}, probes.Target{IP: cam.Addr.Addr(), MAC: mac})
	if len(obs) != 1 {
		t.Fatalf("observations %+v", obs)
	}
	m := udpdisctest.FactMap(obs[0].Facts)
	if obs[0].IP != cam.Addr.Addr() || obs[0].MAC != nil || m["sadp.seen"] != "reply" || m["sadp.model"] != full.Model ||
		m["sadp.mac"] != mac.String() || m["sadp.ipv4"] != cam.Addr.Addr().String() {
		t.Errorf("observation %+v", obs[0])
	}
}

// listenGroupOnly opens a socket bound to the group address itself, so it
// hears what is sent to the group and nothing sent to the host's own
// address: how Hikvision devices are reported to listen for SADP
// (cameronnewman/hikvision-tooling, internal/sadp/commands.go). Go's
// listeners bind a multicast address as the wildcard, hence the raw socket.
func listenGroupOnly(ifi *net.Interface) (net.PacketConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "sadp-group")
	defer f.Close()
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, err
	}
	sa := &unix.SockaddrInet4{Port: sadp.Port}
	copy(sa.Addr[:], sadp.Group.To4())
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind group: %w", err)
	}
	mreq := &unix.IPMreqn{Ifindex: int32(ifi.Index)}
	copy(mreq.Multiaddr[:], sadp.Group.To4())
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	return net.FilePacketConn(f)
}

// splitConn reads from one socket and answers from another, as a device
// whose listening socket is bound to the group must.
type splitConn struct {
	net.PacketConn
	out net.PacketConn
}

func (c splitConn) WriteTo(b []byte, to net.Addr) (int, error) { return c.out.WriteTo(b, to) }

// A device that hears SADP only on the group and answers the asker's
// address and port, as the public tools describe real ones: a unicast
// inquiry alone gets nothing, and the Prober's group inquiry on the
// target's link gets the answer, attributed to the target's address.
func TestLabProberGroupOnlyDevice(t *testing.T) {
	n := labtest.Net(t, "cwtsg")
	mac := net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0x5b, 0x01}
	cam := labtest.Host(t, n, "cam", 10, mac)
	app := labtest.Host(t, n, "app", 2, nil)
	rep := hikReply()
	rep.MAC, rep.IPv4Address = "58-50-ED-C4-5B-01", cam.Addr.Addr().String()
	labdisc.ServeIn(t, cam, func(ifi *net.Interface) (net.PacketConn, error) {
		in, err := listenGroupOnly(ifi)
		if err != nil {
			return nil, err
		}
		out, err := net.ListenUDP("udp4", nil)
		if err != nil {
			in.Close()
			return nil, err
		}
		return splitConn{in, out}, nil
	}, (&sadp.Responder{Reply: rep}).Serve)

	target := probes.Target{IP: cam.Addr.Addr(), MAC: mac}
	if obs, err := probeFrom(t, app, &sadp.Prober{NoGroup: true, Timeout: 600 * time.Millisecond}, target); !errors.Is(err, sadp.ErrNoReply) || len(obs) != 0 {
		t.Errorf("unicast only: err %v, observations %+v (the device should not hear it)", err, obs)
	}
	start := time.Now()
	obs, err := probeFrom(t, app, &sadp.Prober{Timeout: 2 * time.Second}, target)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("probe took %v: it should stop at the answer", d)
	}
	if m := udpdisctest.FactMap(obs[0].Facts); len(obs) != 1 || obs[0].IP != cam.Addr.Addr() || obs[0].MAC != nil || m["sadp.mac"] != mac.String() {
		t.Errorf("observations %+v", obs)
	}
}

// Another host on the segment answers every inquiry naming the camera's
// MAC and address. Discovery reports each answer for its sender: the
// camera for itself, the other host with the camera's identity as its
// claims, and nothing new for the MAC it names. The Prober aimed at the
// camera hears both answers on the group and keeps only the camera's.
func TestLabClaimFromAnotherHost(t *testing.T) {
	n := labtest.Net(t, "cwtsc")
	camMAC := net.HardwareAddr{0x58, 0x50, 0xed, 0xc4, 0x5c, 0x01}
	cam := labtest.Host(t, n, "cam", 10, camMAC)
	rogue := labtest.Host(t, n, "rogue", 20, nil)
	app := labtest.Host(t, n, "app", 2, nil)
	group := &net.UDPAddr{IP: sadp.Group, Port: sadp.Port}
	listen := func(ifi *net.Interface) (net.PacketConn, error) { return sadp.ListenGroup(ifi, sadp.Group, sadp.Port) }

	own := hikReply()
	own.MAC, own.IPv4Address = "58-50-ED-C4-5C-01", cam.Addr.Addr().String()
	labdisc.ServeIn(t, cam, listen, (&sadp.Responder{Reply: own, ReplyTo: group}).Serve)
	fake := hikReply()
	fake.MAC, fake.IPv4Address, fake.DeviceSN = own.MAC, own.IPv4Address, "DS-FAKE"
	labdisc.ServeIn(t, rogue, listen, (&sadp.Responder{Reply: fake, ReplyTo: group}).Serve)

	obs := labdisc.Discover(t, app, &sadp.Discoverer{Timeout: 1500 * time.Millisecond})
	if len(obs) != 2 {
		t.Fatalf("want one observation per sender, got %d: %+v", len(obs), obs)
	}
	for _, o := range obs {
		m := udpdisctest.FactMap(o.Facts)
		if o.MAC != nil || m["sadp.mac"] != camMAC.String() || m["sadp.ipv4"] != cam.Addr.Addr().String() {
			t.Errorf("observation %+v", o)
		}
		switch o.IP {
		case cam.Addr.Addr():
			if m["sadp.serial"] == "DS-FAKE" {
				t.Errorf("the other host's answer was given to the camera: %+v", o)
			}
		case rogue.Addr.Addr():
			if m["sadp.serial"] != "DS-FAKE" {
				t.Errorf("the camera's answer was given to the other host: %+v", o)
			}
		default:
			t.Errorf("observation for an address nobody answered from: %+v", o)
		}
	}

	pobs, err := probeFrom(t, app, &sadp.Prober{Timeout: time.Second}, probes.Target{IP: cam.Addr.Addr(), MAC: camMAC})
	if err != nil {
		t.Fatal(err)
	}
	if len(pobs) != 1 || pobs[0].IP != cam.Addr.Addr() || udpdisctest.FactMap(pobs[0].Facts)["sadp.serial"] == "DS-FAKE" {
		t.Errorf("probe of the camera: %+v", pobs)
	}
}
