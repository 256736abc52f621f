// Package reporttest is an in-memory report.Reporter that records every call,
// for tests of the code that reports.
package reporttest

import (
	"context"
	"sync"

	"github.com/camwarden/camwarden/firmware/report"
)

// Recorder records everything reported to it. Safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	Devices  []report.Device
	Events   []report.Event
	Forgot   []string
	Statuses []report.Status
}

func (r *Recorder) Device(_ context.Context, d report.Device) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Devices = append(r.Devices, d)
	return nil
}

func (r *Recorder) Forget(_ context.Context, mac string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Forgot = append(r.Forgot, mac)
	return nil
}

func (r *Recorder) Event(_ context.Context, e report.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Events = append(r.Events, e)
	return nil
}

func (r *Recorder) Status(_ context.Context, s report.Status) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Statuses = append(r.Statuses, s)
	return nil
}

func (r *Recorder) Close() error { return nil }

// EventTypes returns the types of the recorded events in order.
func (r *Recorder) EventTypes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := make([]string, len(r.Events))
	for i, e := range r.Events {
		t[i] = e.Type
	}
	return t
}

// Snapshot returns copies of the recorded devices and events.
func (r *Recorder) Snapshot() ([]report.Device, []report.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]report.Device(nil), r.Devices...), append([]report.Event(nil), r.Events...)
}
