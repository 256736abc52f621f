//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/camwarden/camwarden/probes/capture"
	"github.com/camwarden/camwarden/probes/sadp"
	"github.com/camwarden/camwarden/probes/wsd"
	"github.com/camwarden/camwarden/scripts/bench"
)

// Discovery packets carry "cwbench-<seq>" so the counter knows each one
// and counts it once.
const marker = "cwbench-"

// Hard bounds on every helper, whatever the flags say.
const (
	maxHelperRun = 2 * time.Minute
	maxDiscovery = 100000
	maxRateMbit  = 2000
)

func helper(name string, args []string) error {
	switch name {
	case "_capcount":
		return capcount(args)
	case "_blast":
		return blast(args)
	case "_discover":
		return discover(args)
	case "_frames":
		return frames(args)
	}
	return fmt.Errorf("unknown helper")
}

// capcountResult is what _capcount prints as JSON on stdout.
type capcountResult struct {
	Mode      string  `json:"mode"`
	Frames    uint64  `json:"frames"`    // frames read by user space
	Seen      int     `json:"seen"`      // distinct marked discovery packets
	WSD       int     `json:"wsd"`       // of which WS-Discovery Hellos
	SADP      int     `json:"sadp"`      // and SADP inquiries
	Kernel    uint64  `json:"kernel"`    // frames the kernel queued (passed the filter)
	Drops     uint64  `json:"drops"`     // frames the kernel dropped for a full buffer
	CPU       float64 `json:"cpu_s"`     // utime+stime over the window, seconds
	Wall      float64 `json:"wall_s"`    // the window
	CPUPerSec float64 `json:"cpu_per_s"` // CPU seconds per second
}

// capcount counts marked discovery packets arriving on eth0, either through
// the product's capture (capture.Open: kernel BPF filter) or through a raw
// AF_PACKET socket without any filter, until the duration ends or SIGTERM.
// CPU time comes from /proc/self/stat (utime+stime) across the window.
func capcount(args []string) error {
	fs := flag.NewFlagSet("_capcount", flag.ContinueOnError)
	mode := fs.String("mode", "filter", "filter (capture.Open) or raw (AF_PACKET, no filter)")
	dur := fs.Duration("duration", 10*time.Second, "how long to count")
	from := fs.String("from", "", "sender address of the discovery packets")
	if err := fs.Parse(args); err != nil {
		return err
	}
	src, err := netip.ParseAddr(*from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	*dur = min(*dur, maxHelperRun)
	ifi, err := net.InterfaceByName("eth0")
	if err != nil {
		return err
	}
	var (
		read  func() ([]byte, error)
		stats func() (uint64, uint64)
		stop  func()
	)
	switch *mode {
	case "filter":
		live, err := capture.Open(capture.Options{Iface: "eth0"})
		if err != nil {
			return err
		}
		read = func() ([]byte, error) { p, err := live.ReadPacket(); return p.Data, err }
		stats = func() (uint64, uint64) { s, _ := live.Stats(); return s.Packets, s.Drops }
		stop = func() { live.SetReadDeadline(time.Now()) }
		defer live.Close()
	case "raw":
		conn, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		if err != nil {
			return err
		}
		buf := make([]byte, capture.DefaultSnapLen)
		var pk, dr uint64
		read = func() ([]byte, error) { n, _, err := conn.ReadFrom(buf); return buf[:n], err }
		stats = func() (uint64, uint64) {
			if s, err := conn.Stats(); err == nil {
				pk += uint64(s.Packets)
				dr += uint64(s.Drops)
			}
			return pk, dr
		}
		stop = func() { conn.SetReadDeadline(time.Now()) }
		defer conn.Close()
	default:
		return fmt.Errorf("--mode %q: want filter or raw", *mode)
	}
	stats() // the kernel counters reset on read: start from zero
	seen := map[int]uint16{}
	res := capcountResult{Mode: *mode}
	cpu0, err := selfCPU()
	if err != nil {
		return err
	}
	t0 := time.Now()
	fmt.Fprintln(os.Stderr, "ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	timer := time.AfterFunc(*dur, stop)
	go func() { <-sig; timer.Stop(); stop() }()
	for {
		b, err := read()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			return err
		}
		res.Frames++
		f, ok := bench.ParseUDPFrame(b)
		if !ok || f.Src != src || (f.DstPort != 3702 && f.DstPort != 37020) {
			continue
		}
		if seq, ok := markerSeq(f.Payload); ok && len(seen) < maxDiscovery {
			seen[seq] = f.DstPort
		}
	}
	res.Wall = time.Since(t0).Seconds()
	cpu1, err := selfCPU()
	if err != nil {
		return err
	}
	res.CPU = cpu1 - cpu0
	res.CPUPerSec = res.CPU / res.Wall
	res.Kernel, res.Drops = stats()
	res.Seen = len(seen)
	for _, p := range seen {
		if p == 3702 {
			res.WSD++
		} else {
			res.SADP++
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func markerSeq(p []byte) (int, bool) {
	i := bytes.Index(bytes.ToLower(p), []byte(marker))
	if i < 0 || len(p) < i+len(marker)+8 {
		return 0, false
	}
	n, err := strconv.Atoi(string(p[i+len(marker) : i+len(marker)+8]))
	return n, err == nil
}

// selfCPU is utime+stime of this process from /proc/self/stat, in seconds.
func selfCPU() (float64, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, errors.New("/proc/self/stat: short")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(ut+st) / 100, nil // USER_HZ is 100 on Linux
}

// blastResult is what _blast prints.
type blastResult struct {
	Packets uint64  `json:"packets"`
	Bytes   uint64  `json:"bytes"`
	Wall    float64 `json:"wall_s"`
	Mbit    float64 `json:"mbit_s"`
	Errors  uint64  `json:"send_errors"`
}

// blast sends paced UDP "video" (RTP-sized datagrams, 1316 bytes of TS
// payload) to a multicast group for a bounded time, in sendmmsg batches.
func blast(args []string) error {
	fs := flag.NewFlagSet("_blast", flag.ContinueOnError)
	group := fs.String("to", "239.18.0.1:5004", "multicast group:port (stays on the lab bridge)")
	rate := fs.Float64("mbit", 250, "rate in Mbit/s of UDP payload plus headers")
	dur := fs.Duration("duration", 5*time.Second, "how long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dst, err := net.ResolveUDPAddr("udp4", *group)
	if err != nil || !dst.IP.IsMulticast() {
		return fmt.Errorf("--to %q: want a multicast group:port", *group)
	}
	*rate = min(*rate, maxRateMbit)
	*dur = min(*dur, maxHelperRun)
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		return err
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c)
	if ifi, err := net.InterfaceByName("eth0"); err == nil {
		_ = pc.SetMulticastInterface(ifi)
	}
	_ = pc.SetMulticastTTL(1)
	if uc, ok := c.(*net.UDPConn); ok {
		_ = uc.SetWriteBuffer(4 << 20)
	}
	payload := make([]byte, 12+1316) // RTP header + 7 TS packets
	payload[0] = 0x80
	payload[1] = 33 // MP2T
	const wire = 12 + 1316 + 8 + 20 + 14
	pps := *rate * 1e6 / 8 / wire
	const batch = 32
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i] = ipv4.Message{Buffers: [][]byte{payload}, Addr: dst}
	}
	var res blastResult
	start := time.Now()
	end := start.Add(*dur)
	for now := start; now.Before(end); now = time.Now() {
		due := uint64(pps*now.Sub(start).Seconds()) - res.Packets
		if due == 0 {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		n := int(min(due, batch))
		sent, err := pc.WriteBatch(msgs[:n], 0)
		if err != nil {
			res.Errors++
			time.Sleep(100 * time.Microsecond)
		}
		res.Packets += uint64(max(sent, 0))
	}
	res.Wall = time.Since(start).Seconds()
	res.Bytes = res.Packets * wire
	res.Mbit = float64(res.Bytes) * 8 / res.Wall / 1e6
	return json.NewEncoder(os.Stdout).Encode(res)
}

// discover sends n marked discovery datagrams, alternating WS-Discovery
// Hello (3702) and SADP inquiry (37020) to 239.255.255.250, evenly over
// the duration.
func discover(args []string) error {
	fs := flag.NewFlagSet("_discover", flag.ContinueOnError)
	n := fs.Int("n", 1000, "datagrams to send")
	dur := fs.Duration("over", 5*time.Second, "spread over this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	*n = min(max(*n, 1), maxDiscovery)
	*dur = min(*dur, maxHelperRun)
	c, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		return err
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c)
	if ifi, err := net.InterfaceByName("eth0"); err == nil {
		_ = pc.SetMulticastInterface(ifi)
	}
	wsdDst := &net.UDPAddr{IP: net.IPv4(239, 255, 255, 250), Port: 3702}
	sadpDst := &net.UDPAddr{IP: net.IPv4(239, 255, 255, 250), Port: 37020}
	seq := &wsd.Sequence{InstanceID: 1}
	gap := *dur / time.Duration(*n)
	start := time.Now()
	sent, errs := 0, 0
	for i := range *n {
		if d := time.Until(start.Add(time.Duration(i) * gap)); d > 0 {
			time.Sleep(d)
		}
		id := fmt.Sprintf("%s%08d", marker, i)
		var b []byte
		var dst net.Addr
		if i%2 == 0 {
			b = wsd.BuildHello("urn:uuid:"+id, seq, wsd.Target{Address: "urn:uuid:" + id,
				Types: "dn:NetworkVideoTransmitter", XAddrs: []string{"http://198.18.1.250/onvif/device_service"}})
			dst = wsdDst
		} else {
			b = sadp.BuildInquiry(strings.ToUpper(id))
			dst = sadpDst
		}
		if _, err := c.WriteTo(b, dst); err != nil {
			errs++
			continue
		}
		sent++
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"sent": sent, "errors": errs, "wall_s": time.Since(start).Seconds()})
}
