package app

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// DaemonProc identifies the daemon process that wrote a snapshot, so
// `camwarden status` can tell a running daemon from a dead one without the
// daemon rewriting state.json every minute to prove it is alive (each
// rewrite costs the SD card about 32 KB of data and ext4 metadata).
type DaemonProc struct {
	PID int `json:"pid"`
	// Start is the process start time in clock ticks since boot
	// (/proc/PID/stat field 22) and BootID the kernel's boot id: together
	// they tell the daemon from a later process that reuses its PID.
	Start  uint64 `json:"start"`
	BootID string `json:"boot_id"`
}

// Liveness of a snapshot's writer.
type Liveness int

const (
	LiveUnknown Liveness = iota // no daemon record, or no /proc to ask
	LiveRunning
	LiveGone
)

// selfProc describes this process, or nil when /proc cannot.
func selfProc() *DaemonProc {
	pid := os.Getpid()
	start, ok := procStart(pid)
	boot := bootID()
	if !ok || boot == "" {
		return nil
	}
	return &DaemonProc{PID: pid, Start: start, BootID: boot}
}

// Alive says whether the process d describes is still running.
func (d *DaemonProc) Alive() Liveness {
	if d == nil || d.PID <= 0 {
		return LiveUnknown
	}
	boot := bootID()
	if boot == "" {
		return LiveUnknown
	}
	if boot != d.BootID {
		return LiveGone
	}
	start, ok := procStart(d.PID)
	if !ok || start != d.Start {
		return LiveGone
	}
	return LiveRunning
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// procStart reads field 22 (starttime) of the process's main thread,
// /proc/PID/task/PID/stat: the same as /proc/PID/stat on Linux, but
// qemu-user (the arm test runs) fabricates a process's own /proc/PID/stat
// with the reading thread's start, which then never matches. The command
// name (field 2) may hold spaces and parentheses, so fields are counted
// after its last ')'.
func procStart(pid int) (uint64, bool) {
	p := strconv.Itoa(pid)
	b, err := os.ReadFile("/proc/" + p + "/task/" + p + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}
