package report

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Log is a Reporter that writes to a slog.Logger, for an appliance with no
// broker. What someone must act on (flagged devices, reviews, relay and
// policy events) is always written. Routine lines (unidentified devices
// coming, changing and going) are limited to RoutinePerMinute a minute and
// the rest summarised in one line, so a MAC flood or a boot storm cannot
// fill the log (or the SD card) with one line per MAC.
type Log struct {
	L   *slog.Logger
	Now func() time.Time // time.Now when nil

	mu         sync.Mutex
	window     time.Time
	n          int
	suppressed int
	lastStatus *Status
}

// RoutinePerMinute bounds routine log lines.
const RoutinePerMinute = 30

// NewLog returns a Log writing to l.
func NewLog(l *slog.Logger) *Log { return &Log{L: l} }

// routine reports whether a routine line may be written now, and writes
// the summary of a closed window first.
func (r *Log) routine() bool {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.window) >= time.Minute {
		if r.suppressed > 0 {
			r.L.Info("routine device lines not logged", "count", r.suppressed, "since", r.window.Format(time.RFC3339))
		}
		r.window, r.n, r.suppressed = now, 0, 0
	}
	if r.n >= RoutinePerMinute {
		r.suppressed++
		return false
	}
	r.n++
	return true
}

func important(d Device) bool {
	return d.Flagged || d.Status == StatusReview || d.Action != ""
}

func (r *Log) Device(_ context.Context, d Device) error {
	if important(d) || r.routine() {
		r.L.Info("device", "mac", d.Key(), "ip", d.IP, "maker", d.Maker, "brand", d.Brand, "model", d.Model,
			"confidence", d.Confidence, "status", d.Status, "flagged", d.Flagged, "action", d.Action)
	}
	return nil
}

func (r *Log) Forget(_ context.Context, mac string) error {
	if r.routine() {
		r.L.Info("device forgotten", "mac", mac)
	}
	return nil
}

func (r *Log) Event(_ context.Context, e Event) error {
	switch e.Type {
	case EvtDeviceNew, EvtDeviceGone:
		if flagged, _ := e.Data["flagged"].(bool); !flagged && !r.routine() {
			return nil
		}
	}
	r.L.Info("event", "type", e.Type, "mac", e.MAC, "data", e.Data)
	return nil
}

func (r *Log) Status(_ context.Context, s Status) error {
	// A status whose only news is the device count (or the drop counters)
	// is routine: during a flood it changes every second.
	r.mu.Lock()
	routineOnly := r.lastStatus != nil && s.Online == r.lastStatus.Online && s.Flagged == r.lastStatus.Flagged &&
		s.UplinkCut == r.lastStatus.UplinkCut && s.PolicyVersion == r.lastStatus.PolicyVersion
	r.lastStatus = &s
	r.mu.Unlock()
	if routineOnly && !r.routine() {
		return nil
	}
	r.L.Info("status", "online", s.Online, "devices", s.Devices, "flagged", s.Flagged, "uplink_cut", s.UplinkCut,
		"policy", s.PolicyVersion, "capture_dropped", s.CaptureDropped, "pipeline_dropped", s.PipelineDropped)
	return nil
}

func (r *Log) Close() error { return nil }
