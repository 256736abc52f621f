//go:build linux

package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// Bounds of the synthetic frame generator, whatever the flags say.
const (
	maxGenMACs = 200_000
	maxGenRate = 5_000 // frames/s
)

// genMAC is the MAC of synthetic device i: locally administered, so it can
// never be a real vendor's.
func genMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0xcb, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

// genIP puts synthetic device i in 198.18.128.0/17: inside the lab range,
// outside the daemon's probed subnet, so the run measures what passive
// sightings cost and not a probe storm at hosts that do not exist.
func genIP(i int) [4]byte {
	return [4]byte{198, 18, byte(128 + (i/250)%128), byte(1 + i%250)}
}

// arpAnnounce is a gratuitous ARP request from mac for ip.
func arpAnnounce(mac net.HardwareAddr, ip [4]byte) []byte {
	f := make([]byte, 14+28)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1) // request
	copy(a[8:14], mac)
	copy(a[14:18], ip[:])
	copy(a[24:28], ip[:])
	return f
}

// dhcpDiscover is a broadcast DHCPDISCOVER from mac with a hostname and the
// vendor class of a BusyBox client, as a camera's first frames look.
func dhcpDiscover(mac net.HardwareAddr, i int) []byte {
	opts := []byte{53, 1, 1}
	host := fmt.Sprintf("cwgen-%06d", i)
	opts = append(opts, 12, byte(len(host)))
	opts = append(opts, host...)
	vc := "udhcp 1.20.2"
	opts = append(opts, 60, byte(len(vc)))
	opts = append(opts, vc...)
	opts = append(opts, 55, 7, 1, 3, 6, 12, 15, 28, 42, 255)
	bootp := make([]byte, 236+4+len(opts))
	bootp[0], bootp[1], bootp[2] = 1, 1, 6
	binary.BigEndian.PutUint32(bootp[4:], uint32(i)*2654435761)
	binary.BigEndian.PutUint16(bootp[10:], 0x8000) // broadcast reply
	copy(bootp[28:34], mac)
	copy(bootp[236:], []byte{99, 130, 83, 99})
	copy(bootp[240:], opts)
	udp := make([]byte, 8+len(bootp))
	binary.BigEndian.PutUint16(udp[0:], 68)
	binary.BigEndian.PutUint16(udp[2:], 67)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	copy(udp[8:], bootp) // checksum 0: none, allowed over IPv4
	ip := make([]byte, 20+len(udp))
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	copy(ip[16:20], []byte{255, 255, 255, 255})
	var sum uint32
	for k := 0; k < 20; k += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[k:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	copy(ip[20:], udp)
	f := make([]byte, 14+len(ip))
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	copy(f[14:], ip)
	return f
}

type framesResult struct {
	Sent   uint64  `json:"sent"`
	Errors uint64  `json:"errors"`
	Wall   float64 `json:"wall_s"`
}

// frames sends synthetic device chatter on eth0 of the namespace it runs
// in (a host cwbench plugged into the lab bridge). Idle mode: devices
// 0..n-1 each announce themselves once per --every (a DHCPDISCOVER the
// first time, a gratuitous ARP after), spread evenly. Flood mode: n
// gratuitous ARPs, each from a new random MAC, at --rate. Bounded by
// maxGenMACs, maxGenRate and maxHelperRun; SIGTERM stops it.
func frames(args []string) error {
	fs := flag.NewFlagSet("_frames", flag.ContinueOnError)
	n := fs.Int("n", 50, "devices (idle) or MACs (flood)")
	every := fs.Duration("every", 10*time.Second, "idle: each device speaks once per this")
	rate := fs.Int("rate", 2000, "flood: frames per second")
	flood := fs.Bool("flood", false, "one frame per new random MAC")
	dur := fs.Duration("duration", 30*time.Second, "idle: how long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	*n = min(max(*n, 1), maxGenMACs)
	*rate = min(max(*rate, 1), maxGenRate)
	*dur = min(*dur, maxHelperRun)
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		return err
	}
	conn, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	bcast := &packet.Addr{HardwareAddr: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	var res framesResult
	start := time.Now()
	send := func(f []byte) {
		if _, err := conn.WriteTo(f, bcast); err != nil {
			res.Errors++
			return
		}
		res.Sent++
	}
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return time.Since(start) > maxHelperRun
		}
	}
	if *flood {
		r := rand.New(rand.NewPCG(uint64(start.UnixNano()), 15))
		gap := time.Second / time.Duration(*rate)
		for i := 0; i < *n && !stopped(); i++ {
			if d := time.Until(start.Add(time.Duration(i) * gap)); d > 0 {
				time.Sleep(d)
			}
			mac := make(net.HardwareAddr, 6)
			binary.BigEndian.PutUint32(mac[2:], r.Uint32())
			mac[0], mac[1] = 0x02|byte(r.Uint32()&0xfc), byte(r.Uint32())
			send(arpAnnounce(mac, genIP(i)))
		}
	} else {
		gap := *every / time.Duration(*n)
		for k := 0; time.Since(start) < *dur && !stopped(); k++ {
			i := k % *n
			if d := time.Until(start.Add(time.Duration(k) * gap)); d > 0 {
				time.Sleep(d)
			}
			if k < *n {
				send(dhcpDiscover(genMAC(i), i))
			} else {
				send(arpAnnounce(genMAC(i), genIP(i)))
			}
		}
	}
	res.Wall = time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(res)
}
