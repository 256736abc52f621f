package mqtt

import (
	"context"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
)

func TestStatusDeviceEventForget(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app1": "pw1"}})
	col := newCollector(t, b, "camwarden/v1/#", "col1", true)
	c := dial(t, applianceOpts(t, b, "app1", ""))
	waitUp(t, c)
	ctx := context.Background()
	st := report.Status{Firmware: "1.2.3", PolicyVersion: 7, Interfaces: []string{"eth0"}, Devices: 2, Flagged: 1}
	if err := c.Status(ctx, st); err != nil {
		t.Fatal(err)
	}
	dev := report.Device{MAC: "AA:BB:CC:00:00:01", IP: "198.18.1.10", Maker: "hikvision", Flagged: true, Confidence: "definitive",
		Evidence: []report.EvidenceItem{{Probe: "sadp", Detail: "model DS-2CD2385G1-I"}}}
	if err := c.Device(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if err := c.Event(ctx, report.Event{Type: report.EvtDeviceFlagged, MAC: dev.MAC, Data: map[string]any{"maker": "hikvision"}}); err != nil {
		t.Fatal(err)
	}
	ms := col.waitFor(5*time.Second, "event", func(ms []msg) bool {
		_, ok := lastOn(ms, "camwarden/v1/app1/evt/device_flagged")
		return ok
	})
	m, _ := lastOn(ms, "camwarden/v1/app1/status")
	s := mustStatus(t, m)
	if !s.Online || s.Session == 0 || s.Firmware != "1.2.3" || s.Appliance != "app1" || s.MsgID == "" || s.TS.IsZero() {
		t.Fatalf("status: %s", pretty(s))
	}
	m, ok := lastOn(ms, "camwarden/v1/app1/info")
	if !ok {
		t.Fatal("no info")
	}
	info, err := DecodeInfo(m.Payload)
	if err != nil || info.PolicyVersion != 7 || info.Interfaces[0] != "eth0" {
		t.Fatalf("info %v: %s", err, m.Payload)
	}
	m, _ = lastOn(ms, "camwarden/v1/app1/evt/device_flagged")
	ev, err := DecodeEvent(m.Payload)
	if err != nil || ev.MAC != dev.MAC || ev.Historical || ev.Data["maker"] != "hikvision" || ev.Seq == 0 {
		t.Fatalf("event %v: %s", err, m.Payload)
	}
	waitQueue(t, c, 0)

	// A new subscriber sees the retained state.
	late := newCollector(t, b, "camwarden/v1/app1/devices/#", "late", true)
	ms = late.waitFor(5*time.Second, "retained device", func(ms []msg) bool { return len(ms) > 0 })
	if !ms[0].Retained || ms[0].Topic != "camwarden/v1/app1/devices/aa:bb:cc:00:00:01" {
		t.Fatalf("retained device: %+v", ms[0])
	}
	dp, ok, err := DecodeDevice(ms[0].Payload)
	if !ok || err != nil || dp.Maker != "hikvision" || !dp.Flagged || len(dp.Evidence) != 1 {
		t.Fatalf("device %v: %s", err, ms[0].Payload)
	}

	// Forget clears the retained message.
	if err := c.Forget(ctx, dev.MAC); err != nil {
		t.Fatal(err)
	}
	late.waitFor(5*time.Second, "clear", func(ms []msg) bool { return len(ms) == 2 && len(ms[1].Payload) == 0 })
	empty := newCollector(t, b, "camwarden/v1/app1/devices/#", "empty", true)
	time.Sleep(300 * time.Millisecond)
	if n := len(empty.snapshot()); n != 0 {
		t.Fatalf("forgotten device still retained (%d messages)", n)
	}

	// Clean close: offline with the same session, retained.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	ms = col.waitFor(5*time.Second, "offline", func(ms []msg) bool {
		m, ok := lastOn(ms, "camwarden/v1/app1/status")
		return ok && !mustStatus(t, m).Online
	})
	m, _ = lastOn(ms, "camwarden/v1/app1/status")
	if off := mustStatus(t, m); off.Session != s.Session || off.Firmware != "1.2.3" {
		t.Fatalf("offline status %s, online session %d", pretty(off), s.Session)
	}
}

// A camera behind a recorder is published retained on
// devices/{recorder mac}-ch{n} (one topic level, so devices/+ still
// matches), carrying its identity and where it sits, and forgotten by its
// identity.
func TestChannelCameraTopic(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app1": "pw1"}})
	col := newCollector(t, b, "camwarden/v1/app1/devices/+", "colch", true)
	c := dial(t, applianceOpts(t, b, "app1", ""))
	waitUp(t, c)
	ctx := context.Background()
	dev := report.Device{ID: "bc:ad:28:c4:00:01/ch3", Maker: "hikvision", Brand: "HiWatch", Flagged: true, Confidence: "strong",
		Behind: &report.Behind{NVR: "bc:ad:28:c4:00:01", Channel: 3, IP: "192.168.254.4", Protocol: "HIKVISION"}}
	if err := c.Device(ctx, dev); err != nil {
		t.Fatal(err)
	}
	ms := col.waitFor(5*time.Second, "channel device", func(ms []msg) bool { return len(ms) > 0 })
	if ms[0].Topic != "camwarden/v1/app1/devices/bc:ad:28:c4:00:01-ch3" {
		t.Fatalf("published %+v", ms[0])
	}
	dp, ok, err := DecodeDevice(ms[0].Payload)
	if !ok || err != nil || dp.ID != dev.ID || dp.Behind == nil || dp.Behind.Channel != 3 || dp.MAC != "" {
		t.Fatalf("payload %v: %s", err, ms[0].Payload)
	}
	if err := c.Forget(ctx, dev.ID); err != nil {
		t.Fatal(err)
	}
	col.waitFor(5*time.Second, "cleared", func(ms []msg) bool { return len(ms) == 2 && len(ms[1].Payload) == 0 })
}
