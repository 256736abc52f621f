package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/report"
)

// Snapshot is what `camwarden status` and `camwarden explain` read, so
// neither needs a listening port. The daemon keeps it in two files under
// the state directory to spare the SD card: state.json (appliance, status,
// relay, the daemon's process; rewritten when it changes and at least every
// stateHeartbeat) and devices.json (the device list,
// rewritten only when a device's reported view changed: idle devices cost
// no writes).
type Snapshot struct {
	Appliance string          `json:"appliance,omitempty"`
	Site      string          `json:"site,omitempty"`
	Broker    BrokerState     `json:"broker"`
	Updated   time.Time       `json:"updated"`
	Daemon    *DaemonProc     `json:"daemon,omitempty"`
	Status    report.Status   `json:"status"`
	Relay     enforce.Status  `json:"relay"`
	Devices   []report.Device `json:"devices"`
}

// BrokerState is the MQTT link as `camwarden status` shows it.
type BrokerState struct {
	Configured bool `json:"configured"`
	Connected  bool `json:"connected"`
}

// StateFile and DevicesFile are the snapshot's files under the state
// directory.
const (
	StateFile   = "state.json"
	DevicesFile = "devices.json"
)

// stateHeartbeat bounds how stale state.json's "updated" may get while
// nothing changes. Whether the daemon runs is told by its process record
// (Snapshot.Daemon), not by this: an atomic rewrite of a 500-byte file
// costs ext4 about 32 KB (data, directory, inode and bitmap blocks), which
// every minute was 46 MB a day, most of an idle appliance's writes.
const stateHeartbeat = 10 * time.Minute

const stateHeartbeatText = "10 minutes"

// ReadSnapshot reads the daemon's last snapshot.
func ReadSnapshot(stateDir string) (Snapshot, error) {
	var s Snapshot
	b, err := os.ReadFile(filepath.Join(stateDir, StateFile))
	if err != nil {
		return s, fmt.Errorf("no daemon state (is camwarden running with state_dir %s?): %w", stateDir, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(stateDir, StateFile), err)
	}
	if s.Devices == nil {
		b, err := os.ReadFile(filepath.Join(stateDir, DevicesFile))
		if err != nil && !os.IsNotExist(err) {
			return s, err
		}
		if len(b) > 0 {
			var devs struct {
				Devices []report.Device `json:"devices"`
			}
			if err := json.Unmarshal(b, &devs); err != nil {
				return s, fmt.Errorf("%s: %w", filepath.Join(stateDir, DevicesFile), err)
			}
			s.Devices = devs.Devices
		}
	}
	return s, nil
}

// devicesEvery bounds how often devices.json is rewritten while devices
// keep changing (a boot storm, a MAC flood).
const devicesEvery = 10 * time.Second

// The whole device list is 2 MB at 5,000 devices, and an inventory kept at
// its cap by churn changes every few seconds: devices.json rewrites draw on
// a byte budget (devicesRate a second, up to devicesBurst saved), so small
// lists are rewritten every devicesEvery and a churning 5,000-device list
// about every 8 minutes, never later than devicesMaxStale.
const (
	devicesRate     = 4096 // bytes a second: 354 MB a day at the very worst
	devicesBurst    = 8 << 20
	devicesMaxStale = 10 * time.Minute
)

// stateRoutineEvery bounds state.json rewrites whose only news is the
// device count or the drop counters.
const stateRoutineEvery = 30 * time.Second

// stateWriter writes the two snapshot files only when their content
// changed (state.json also on the heartbeat), and counts the bytes.
type stateWriter struct {
	dir                  string
	lastState, lastDev   []byte
	lastImportant        []byte // state.json without the routine counters
	wroteState, wroteDev time.Time
	devTokens            float64 // devices.json byte budget
	devTokensAt          time.Time
	lastDevLen           int
	Bytes                uint64
}

// devicesDue says whether devices.json may be rewritten at now: not too
// soon, and within the byte budget for a file the size of the last one
// (checked before the list is even copied).
func (w *stateWriter) devicesDue(now time.Time) bool {
	if w.wroteDev.IsZero() {
		return true
	}
	since := now.Sub(w.wroteDev)
	return since >= devicesEvery && (since >= devicesMaxStale || w.tokens(now) >= float64(w.lastDevLen))
}

func (w *stateWriter) tokens(now time.Time) float64 {
	if w.devTokensAt.IsZero() {
		return devicesBurst
	}
	return min(devicesBurst, w.devTokens+now.Sub(w.devTokensAt).Seconds()*devicesRate)
}

// write writes state.json if it changed, and devices.json from
// snap.Devices if withDevices (the caller's views changed and devicesDue).
// It reports whether devices.json now holds snap.Devices (false: the byte
// budget deferred it; ask again).
func (w *stateWriter) write(snap Snapshot, now time.Time, withDevices bool) (bool, error) {
	wroteDevs := false
	if withDevices {
		var err error
		if wroteDevs, err = w.writeDevices(snap.Devices, now); err != nil {
			return false, err
		}
	}
	snap.Devices = nil
	snap.Updated = time.Time{}
	sb, err := json.Marshal(snap)
	if err != nil {
		return wroteDevs, err
	}
	routine := snap
	routine.Status.Devices, routine.Status.CaptureDropped, routine.Status.PipelineDropped = 0, 0, 0
	ib, err := json.Marshal(routine)
	if err != nil {
		return wroteDevs, err
	}
	age := now.Sub(w.wroteState)
	switch {
	case age >= stateHeartbeat:
	case bytes.Equal(sb, w.lastState):
		return wroteDevs, nil
	case bytes.Equal(ib, w.lastImportant) && age < stateRoutineEvery:
		return wroteDevs, nil
	}
	snap.Updated = now
	out, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return wroteDevs, err
	}
	if err := atomicfile.WriteFile(filepath.Join(w.dir, StateFile), out, 0o640); err != nil {
		return wroteDevs, err
	}
	w.lastState, w.lastImportant, w.wroteState, w.Bytes = sb, ib, now, w.Bytes+uint64(len(out))
	return wroteDevs, nil
}

func (w *stateWriter) writeDevices(devices []report.Device, now time.Time) (bool, error) {
	// Last sightings move with every frame; to the minute is all status and
	// explain need, and it keeps a device that merely chatters from
	// rewriting the file.
	devs := make([]report.Device, len(devices))
	for i, d := range devices {
		d.LastSeen = d.LastSeen.Truncate(time.Minute)
		devs[i] = d
	}
	// Compact, not indented: a third fewer bytes on the SD card each time.
	db, err := json.Marshal(struct {
		Devices []report.Device `json:"devices"`
	}{devs})
	if err != nil {
		return false, err
	}
	// Compared by hash, not kept: holding the last 2 MB file would double
	// what the list costs in memory.
	sum := sha256.Sum256(db)
	if bytes.Equal(sum[:], w.lastDev) {
		return true, nil
	}
	w.devTokens, w.devTokensAt = w.tokens(now), now
	if !w.wroteDev.IsZero() && w.devTokens < float64(len(db)) && now.Sub(w.wroteDev) < devicesMaxStale {
		return false, nil
	}
	if err := atomicfile.WriteFile(filepath.Join(w.dir, DevicesFile), db, 0o640); err != nil {
		return false, err
	}
	w.lastDev, w.wroteDev, w.lastDevLen, w.Bytes = sum[:], now, len(db), w.Bytes+uint64(len(db))
	w.devTokens -= float64(len(db))
	return true, nil
}

// Views returns the last reported view of every device, sorted by IP.
func (p *Pipeline) Views() []report.Device {
	p.mu.Lock()
	out := make([]report.Device, 0, len(p.last))
	for _, v := range p.last {
		out = append(out, v)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b report.Device) int { return compareIP(a.IP, b.IP) })
	return out
}

func stateLoop(ctx context.Context, dir, id string, rep report.Reporter, status func() report.Status,
	extras func(*Snapshot), p *Pipeline, enf *enforce.Enforcer, view io.Writer, log *slog.Logger) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last report.Status
	first := true
	w := &stateWriter{dir: dir}
	self := selfProc()
	var wroteGen uint64
	for n := 0; ; n++ {
		st := status()
		if first || !reflect.DeepEqual(st, last) {
			if err := rep.Status(ctx, st); err != nil {
				log.Warn("report status", "err", err)
			}
			last, first = st, false
		}
		// The views are copied only when they changed or the console shows
		// them: at 5,000 devices a copy each second was megabytes of
		// garbage a second, for an idle network.
		now := time.Now()
		gen := p.Gen()
		withDevices := n%2 == 0 && (n == 0 || gen != wroteGen) && w.devicesDue(now)
		var devs []report.Device
		if view != nil || withDevices {
			devs = p.Views()
		}
		if view != nil {
			fmt.Fprint(view, "\033[H\033[2J")
			fmt.Fprintf(view, "camwarden — %s — uplink %s\n\n", time.Now().Format("15:04:05"), map[bool]string{true: "CUT", false: "connected"}[st.UplinkCut])
			WriteTable(view, devs)
		}
		if n%2 == 0 {
			snap := Snapshot{Appliance: id, Status: st, Relay: enf.Status(), Devices: devs, Daemon: self}
			if extras != nil {
				extras(&snap)
			}
			if wrote, err := w.write(snap, now, withDevices); err != nil {
				log.Warn("write state snapshot", "err", err)
			} else if wrote {
				wroteGen = gen
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
