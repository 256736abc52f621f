package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc names a process by PID and start time, so a PID the kernel has
// since handed to someone else is never signalled.
type proc struct {
	pid   int
	start uint64
}

// procStat returns the state letter and start time (clock ticks after
// boot) of a process from /proc/PID/stat.
func procStat(pid int) (byte, uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start past the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("lab: /proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("lab: /proc/%d/stat: %d fields", pid, len(f))
	}
	start, err := strconv.ParseUint(f[19], 10, 64) // field 22
	if err != nil {
		return 0, 0, fmt.Errorf("lab: /proc/%d/stat: starttime: %w", pid, err)
	}
	return f[0][0], start, nil
}

func procStartTime(pid int) (uint64, error) {
	_, st, err := procStat(pid)
	return st, err
}

// procAlive reports whether pid runs and, when start is non-zero, is still
// the process that started then. Zombies count as gone.
func procAlive(pid int, start uint64) bool {
	state, st, err := procStat(pid)
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || st == start
}

// stopAll sends SIGTERM, waits up to grace, then SIGKILLs what is left.
func stopAll(ctx context.Context, ps []proc, grace time.Duration) error {
	signalAll := func(sig syscall.Signal) {
		for _, p := range ps {
			if procAlive(p.pid, p.start) {
				_ = syscall.Kill(p.pid, sig)
			}
		}
	}
	waitGone := func(d time.Duration) bool {
		deadline := time.Now().Add(d)
		for {
			left := false
			for _, p := range ps {
				if procAlive(p.pid, p.start) {
					left = true
					break
				}
			}
			if !left {
				return true
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	signalAll(syscall.SIGTERM)
	if waitGone(grace) {
		return nil
	}
	signalAll(syscall.SIGKILL)
	if waitGone(5 * time.Second) {
		return nil
	}
	var left []string
	for _, p := range ps {
		if procAlive(p.pid, p.start) {
			left = append(left, strconv.Itoa(p.pid))
		}
	}
	return fmt.Errorf("lab: processes %s survived SIGKILL", strings.Join(left, ","))
}

// nsPids lists the processes whose network namespace is ns.
func nsPids(ctx context.Context, ns string) ([]int, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("ip netns pids %s: %w: %s", ns, err, bytes.TrimSpace(ee.Stderr))
		}
		return nil, fmt.Errorf("ip netns pids %s: %w", ns, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// startInNS starts bin in namespace ns, detached from our session so it
// outlives `cwlab up` and a terminal's ^C, with output appended to logfile.
// `ip netns exec` execs bin in place, so the PID is bin's. The returned
// channel closes when the process exits (it is reaped here while we live).
func startInNS(ns, bin string, args []string, logfile string) (int, uint64, chan struct{}, error) {
	lf, err := os.OpenFile(logfile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, 0, nil, err
	}
	defer lf.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, nil, err
	}
	pid := cmd.Process.Pid
	start, err := procStartTime(pid)
	if err != nil {
		start = 0 // exited already: waitReady reports it with the log
	}
	ch := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(ch)
	}()
	return pid, start, ch, nil
}
