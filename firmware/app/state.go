package app

import (
	"context"
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

// Snapshot is what the daemon writes to <state_dir>/state.json every few
// seconds: `camwarden status` and `camwarden explain` read it, so neither
// needs a listening port.
type Snapshot struct {
	Appliance string          `json:"appliance,omitempty"`
	Site      string          `json:"site,omitempty"`
	Broker    BrokerState     `json:"broker"`
	Updated   time.Time       `json:"updated"`
	Status    report.Status   `json:"status"`
	Relay     enforce.Status  `json:"relay"`
	Devices   []report.Device `json:"devices"`
}

// BrokerState is the MQTT link as `camwarden status` shows it.
type BrokerState struct {
	Configured bool `json:"configured"`
	Connected  bool `json:"connected"`
}

// StateFile is the snapshot's name under the state directory.
const StateFile = "state.json"

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
	return s, nil
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
	for n := 0; ; n++ {
		st := status()
		if first || !reflect.DeepEqual(st, last) {
			if err := rep.Status(ctx, st); err != nil {
				log.Warn("report status", "err", err)
			}
			last, first = st, false
		}
		devs := p.Views()
		if view != nil {
			fmt.Fprint(view, "\033[H\033[2J")
			fmt.Fprintf(view, "camwarden — %s — uplink %s\n\n", time.Now().Format("15:04:05"), map[bool]string{true: "CUT", false: "connected"}[st.UplinkCut])
			WriteTable(view, devs)
		}
		if n%2 == 0 {
			snap := Snapshot{Appliance: id, Updated: time.Now(), Status: st, Relay: enf.Status(), Devices: devs}
			if extras != nil {
				extras(&snap)
			}
			if b, err := json.MarshalIndent(snap, "", "  "); err == nil {
				if err := atomicfile.WriteFile(filepath.Join(dir, StateFile), b, 0o640); err != nil {
					log.Warn("write state snapshot", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
