//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/camwarden/camwarden/scripts/lab"
)

type filterRun struct {
	mode    string // filter | raw
	video   bool
	cap     capcountResult
	blast   blastResult
	sent    int
	carried float64 // Mbit/s the appliance's eth0 received during the run
	err     error
}

func benchFilter(ctx context.Context, cfg config) error {
	l, err := reactionLab(ctx, cfg)
	if err != nil {
		return err
	}
	dur, n, mbit := 10*time.Second, 1000, 250.0
	if cfg.quick {
		dur, n = 4*time.Second, 200
	}
	runs := []filterRun{{mode: "filter", video: false}, {mode: "filter", video: true}, {mode: "raw", video: true}}
	for i := range runs {
		if ctx.Err() != nil {
			break
		}
		runs[i] = filterOnce(ctx, l, runs[i], dur, n, mbit)
		if runs[i].err != nil {
			fmt.Fprintf(os.Stderr, "cwbench: filter run %s video=%v: %v\n", runs[i].mode, runs[i].video, runs[i].err)
		}
	}
	w := cfg.out
	fmt.Fprintf(w, "## filter (issue 3): discovery packets seen under a video flood\n\n")
	fmt.Fprintf(w, "Video: paced UDP/RTP (1328-byte datagrams) multicast to 239.18.0.1:5004 from the axis namespace, flooded by the lab bridge (no IGMP snooping) to every port, the appliance's included, for %s at a %.0f Mbit/s target. ", dur, mbit)
	fmt.Fprintf(w, "Discovery: %d datagrams from the pc namespace, alternating WS-Discovery Hello (3702) and SADP inquiry (37020) to 239.255.255.250, spread over the middle of the run. ", n)
	fmt.Fprintf(w, "Counter: a separate process in the appliance namespace reading either through `capture.Open` (the product's AF_PACKET socket with its kernel BPF filter) or through a raw AF_PACKET socket with no filter (capture has no option to turn its filter off, so the comparison socket is the counter's own). CPU = utime+stime from /proc/self/stat over the counting window.\n\n")
	fmt.Fprintf(w, "| socket | video Mbit/s at appliance | discovery sent | seen | missed | frames to user space | kernel drops | CPU s/s |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		sock := "capture.Open (BPF filter)"
		if r.mode == "raw" {
			sock = "raw AF_PACKET (no filter)"
		}
		if r.err != nil {
			fmt.Fprintf(w, "| %s | error: %v | | | | | | |\n", sock, r.err)
			continue
		}
		video := "none"
		if r.video {
			video = fmt.Sprintf("%.0f (sent %.0f)", r.carried, r.blast.Mbit)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %.3f |\n", sock, video, r.sent, r.cap.Seen, r.sent-r.cap.Seen,
			r.cap.Frames, r.cap.Drops, r.cap.CPUPerSec)
	}
	fmt.Fprintln(w)
	return nil
}

func filterOnce(ctx context.Context, l *lab.Lab, r filterRun, dur time.Duration, n int, mbit float64) filterRun {
	self, err := os.Executable()
	if err != nil {
		r.err = err
		return r
	}
	pc, ok := l.Device("pc")
	if !ok {
		r.err = fmt.Errorf("no pc device in the lab")
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, dur+60*time.Second)
	defer cancel()
	// The counter: started first, and the traffic only once it is ready.
	cc, _ := l.Command(ctx, "app", self, "_capcount", "--mode", r.mode, "--duration", (dur + 30*time.Second).String(), "--from", pc.IP.String())
	var ccOut bytes.Buffer
	cc.Stdout = &ccOut
	ccErr, err := cc.StderrPipe()
	if err != nil {
		r.err = err
		return r
	}
	ccp, err := startProc(cc)
	if err != nil {
		r.err = err
		return r
	}
	defer ccp.stop(5 * time.Second)
	ready := make(chan struct{})
	var errTail strings.Builder
	go func() {
		sc := bufio.NewScanner(ccErr)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			} else if errTail.Len() < 2000 {
				errTail.WriteString(sc.Text() + "\n")
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		r.err = fmt.Errorf("counter not ready")
		return r
	case <-ctx.Done():
		r.err = ctx.Err()
		return r
	}
	rx0, _ := rxBytes(ctx, l.AppNS())
	t0 := time.Now()
	var blastOut bytes.Buffer
	var bp *proc
	if r.video {
		bc, _ := l.Command(ctx, "axis", self, "_blast", "--mbit", fmt.Sprint(mbit), "--duration", dur.String())
		bc.Stdout = &blastOut
		bc.Stderr = os.Stderr
		if bp, err = startProc(bc); err != nil {
			r.err = err
			return r
		}
		defer bp.stop(2 * time.Second)
	}
	time.Sleep(time.Second)
	dc, _ := l.Command(ctx, "pc", self, "_discover", "-n", fmt.Sprint(n), "-over", (dur - 2*time.Second).String())
	dc.Stderr = os.Stderr
	dout, err := dc.Output()
	if err != nil {
		r.err = fmt.Errorf("discovery sender: %w", err)
		return r
	}
	var ds struct {
		Sent int `json:"sent"`
	}
	_ = json.Unmarshal(dout, &ds)
	r.sent = ds.Sent
	if bp != nil {
		select {
		case <-bp.done:
		case <-ctx.Done():
		}
		_ = json.Unmarshal(blastOut.Bytes(), &r.blast)
	}
	rx1, _ := rxBytes(ctx, l.AppNS())
	if el := time.Since(t0).Seconds(); el > 0 && r.video {
		r.carried = float64(rx1-rx0) * 8 / el / 1e6
	}
	time.Sleep(300 * time.Millisecond) // stragglers in the socket buffer
	_ = cc.Process.Signal(syscall.SIGTERM)
	select {
	case <-ccp.done:
	case <-time.After(10 * time.Second):
		r.err = fmt.Errorf("counter did not stop")
		return r
	}
	if err := json.Unmarshal(ccOut.Bytes(), &r.cap); err != nil {
		r.err = fmt.Errorf("counter output %q: %v; %s", ccOut.String(), err, errTail.String())
	}
	return r
}

// rxBytes reads the received-bytes counter of eth0 in namespace ns.
func rxBytes(ctx context.Context, ns string) (uint64, error) {
	out, err := exec.CommandContext(ctx, "ip", "-n", ns, "-j", "-s", "link", "show", "eth0").Output()
	if err != nil {
		return 0, err
	}
	var links []struct {
		Stats struct {
			RX struct {
				Bytes uint64 `json:"bytes"`
			} `json:"rx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) == 0 {
		return 0, fmt.Errorf("ip -s link: %q: %v", out, err)
	}
	return links[0].Stats.RX.Bytes, nil
}
