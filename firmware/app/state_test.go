package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
)

// Idle devices cost no writes: devices.json is rewritten only when a
// device's view changes, state.json when its content changes or on the
// heartbeat; ReadSnapshot joins the two.
func TestStateWriterWritesOnChange(t *testing.T) {
	dir := t.TempDir()
	w := &stateWriter{dir: dir}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	snap := func(maker string) Snapshot {
		return Snapshot{Appliance: "a1", Status: report.Status{Devices: 1},
			Devices: []report.Device{{MAC: "02:00:00:00:00:01", IP: "198.18.1.9", Maker: maker, LastSeen: t0}}}
	}
	mtime := func(name string) time.Time {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}
	if _, err := w.write(snap("axis"), t0, true); err != nil {
		t.Fatal(err)
	}
	first := w.Bytes
	devM, stM := mtime(DevicesFile), mtime(StateFile)
	time.Sleep(20 * time.Millisecond)
	for i := 1; i < int(stateHeartbeat/(2*time.Second)); i++ { // 2 s turns with nothing new but sightings
		s := snap("axis")
		s.Devices[0].LastSeen = t0.Add(time.Duration(i%50) * time.Second) // within the minute
		if _, err := w.write(s, t0.Add(time.Duration(i)*2*time.Second), true); err != nil {
			t.Fatal(err)
		}
	}
	if w.Bytes != first || !mtime(DevicesFile).Equal(devM) || !mtime(StateFile).Equal(stM) {
		t.Fatalf("unchanged state rewritten: %d bytes after the first %d", w.Bytes, first)
	}
	beat := t0.Add(stateHeartbeat + time.Second)
	if _, err := w.write(snap("axis"), beat, true); err != nil {
		t.Fatal(err)
	}
	if mtime(DevicesFile) != devM || mtime(StateFile).Equal(stM) {
		t.Fatal("heartbeat: state.json not rewritten, or devices.json rewritten")
	}
	if _, err := w.write(snap("hanwha"), beat.Add(time.Second), true); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Appliance != "a1" || len(s.Devices) != 1 || s.Devices[0].Maker != "hanwha" || !s.Updated.Equal(beat) {
		t.Fatalf("read back %+v", s)
	}
}

// An inventory kept at its cap by churn changes the device list at every
// turn: devices.json stays within its byte budget and is never staler than
// devicesMaxStale; a status whose only news is the device count is written
// at most every stateRoutineEvery.
func TestStateWriterBoundsChurn(t *testing.T) {
	w := &stateWriter{dir: t.TempDir()}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	devs := make([]report.Device, 3000)
	for i := range devs {
		devs[i] = report.Device{MAC: fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff), IP: "198.18.1.9", Status: report.StatusUnknown}
	}
	const hour = 3600
	lastWrite, stateWrites := t0, 0
	var size int
	for s := 0; s <= hour; s += 2 {
		now := t0.Add(time.Duration(s) * time.Second)
		devs[s%len(devs)].MAC = fmt.Sprintf("02:00:00:01:%02x:%02x", s>>8, s&0xff) // one evicted, one new
		before, st := w.Bytes, w.wroteState
		if w.devicesDue(now) {
			wrote, err := w.write(Snapshot{Status: report.Status{Devices: 3000 - s%2}, Devices: devs}, now, true)
			if err != nil {
				t.Fatal(err)
			}
			if wrote {
				lastWrite = now
			}
		} else if _, err := w.write(Snapshot{Status: report.Status{Devices: 3000 - s%2}}, now, false); err != nil {
			t.Fatal(err)
		}
		if w.Bytes > before && !w.wroteState.Equal(st) {
			stateWrites++
		}
		if size == 0 {
			size = int(w.Bytes)
		}
		if now.Sub(lastWrite) > devicesMaxStale+devicesEvery {
			t.Fatalf("devices.json %v stale at +%ds", now.Sub(lastWrite), s)
		}
	}
	if budget := uint64(devicesBurst + devicesRate*hour + 2*size); w.Bytes > budget {
		t.Fatalf("an hour of churn wrote %d bytes, budget %d", w.Bytes, budget)
	}
	if stateWrites > hour/int(stateRoutineEvery/time.Second)+2 {
		t.Fatalf("state.json written %d times in an hour of device-count changes", stateWrites)
	}
}

// status tells a running daemon from a dead one by its process record,
// not by how fresh state.json is.
func TestDaemonLiveness(t *testing.T) {
	self := selfProc()
	if self == nil {
		t.Fatal("no process record for this process (is /proc mounted?)")
	}
	if got := self.Alive(); got != LiveRunning {
		t.Fatalf("this process: %v, want running", got)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	reused := *self
	reused.Start++ // the PID now belongs to a later process
	bootAgo := *self
	bootAgo.BootID = "00000000-0000-0000-0000-000000000000"
	for name, c := range map[string]struct {
		d    *DaemonProc
		want Liveness
	}{
		"exited":      {&DaemonProc{PID: cmd.ProcessState.Pid(), Start: self.Start, BootID: self.BootID}, LiveGone},
		"pid reused":  {&reused, LiveGone},
		"before boot": {&bootAgo, LiveGone},
		"no record":   {nil, LiveUnknown},
	} {
		if got := c.d.Alive(); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
	var b strings.Builder
	if err := WriteStatus(&b, "a1", Snapshot{Daemon: &reused}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "daemon:     NOT RUNNING") {
		t.Fatalf("status of a dead daemon:\n%s", b.String())
	}
}
