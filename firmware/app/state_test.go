package app

import (
	"os"
	"path/filepath"
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
	if err := w.write(snap("axis"), t0, true); err != nil {
		t.Fatal(err)
	}
	first := w.Bytes
	devM, stM := mtime(DevicesFile), mtime(StateFile)
	time.Sleep(20 * time.Millisecond)
	for i := 1; i <= 29; i++ { // a minute of 2 s turns with nothing new but sightings
		s := snap("axis")
		s.Devices[0].LastSeen = t0.Add(time.Duration(i) * time.Second)
		if err := w.write(s, t0.Add(time.Duration(i)*2*time.Second), true); err != nil {
			t.Fatal(err)
		}
	}
	if w.Bytes != first || !mtime(DevicesFile).Equal(devM) || !mtime(StateFile).Equal(stM) {
		t.Fatalf("unchanged state rewritten: %d bytes after the first %d", w.Bytes, first)
	}
	if err := w.write(snap("axis"), t0.Add(61*time.Second), true); err != nil {
		t.Fatal(err)
	}
	if mtime(DevicesFile) != devM || mtime(StateFile).Equal(stM) {
		t.Fatal("heartbeat: state.json not rewritten, or devices.json rewritten")
	}
	if err := w.write(snap("hanwha"), t0.Add(62*time.Second), true); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Appliance != "a1" || len(s.Devices) != 1 || s.Devices[0].Maker != "hanwha" || !s.Updated.Equal(t0.Add(61*time.Second)) {
		t.Fatalf("read back %+v", s)
	}
}
