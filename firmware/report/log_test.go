package report

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A flood of unidentified MACs costs at most RoutinePerMinute lines a
// minute plus one summary; a flagged device is always logged.
func TestLogSummarisesRoutineLines(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	r := &Log{L: slog.New(slog.NewTextHandler(&buf, nil)), Now: func() time.Time { return now }}
	ctx := context.Background()
	for i := range 10000 {
		mac := fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)
		r.Device(ctx, Device{MAC: mac, Status: StatusUnknown})
		r.Event(ctx, Event{Type: EvtDeviceNew, MAC: mac, Data: map[string]any{"flagged": false}})
	}
	r.Device(ctx, Device{MAC: "58:50:ed:00:00:01", Maker: "hikvision", Flagged: true, Status: StatusFlagged, Action: "isolate"})
	now = now.Add(61 * time.Second)
	r.Device(ctx, Device{MAC: "02:00:00:00:ff:ff", Status: StatusUnknown})
	lines := strings.Count(buf.String(), "\n")
	if lines > RoutinePerMinute+3 {
		t.Fatalf("%d log lines for a 10,000-MAC flood", lines)
	}
	if !strings.Contains(buf.String(), "58:50:ed:00:00:01") {
		t.Fatal("the flagged device was not logged")
	}
	if !strings.Contains(buf.String(), "routine device lines not logged") || !strings.Contains(buf.String(), "count=19970") {
		t.Fatalf("no summary with the count:\n%s", buf.String()[max(0, buf.Len()-400):])
	}
}

// A status whose only news is the device count is routine (a flood moves
// it every second); a change of flags or of the uplink is always logged.
func TestLogStatusCountOnlyIsRoutine(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	r := &Log{L: slog.New(slog.NewTextHandler(&buf, nil)), Now: func() time.Time { return now }}
	ctx := context.Background()
	for i := range 300 {
		r.Status(ctx, Status{Online: true, Devices: 100 + i})
	}
	r.Status(ctx, Status{Online: true, Devices: 400, Flagged: 1, UplinkCut: true})
	out := buf.String()
	if n := strings.Count(out, "msg=status"); n > RoutinePerMinute+2 { // the first, the routine budget, the cut
		t.Fatalf("%d status lines for 300 device-count changes", n)
	}
	if !strings.Contains(out, "flagged=1 uplink_cut=true") {
		t.Fatalf("the cut was not logged:\n%s", out[max(0, len(out)-400):])
	}
}
