package mqtt

import (
	"os"
	"strings"
	"testing"
)

func seedGolden(f *testing.F) {
	for _, n := range []string{"status", "device", "event"} {
		b, err := os.ReadFile("testdata/" + n + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add("camwarden/v1/app1/"+n, b)
	}
	f.Add("camwarden/v1/app1/devices/aa:bb:cc:00:00:01", []byte{})
	f.Add("camwarden/v1//status", []byte(`{"schema":`))
	f.Add("camwarden/v1/x/evt/", []byte(`{"schema":"camwarden.event/1","type":""}`))
}

// FuzzDecode feeds arbitrary topics and payloads (what a broker may hand a
// consumer) to the topic parser and every decoder: no panics, and what
// decodes re-checks its own invariants.
func FuzzDecode(f *testing.F) {
	seedGolden(f)
	f.Fuzz(func(t *testing.T, topic string, b []byte) {
		if app, kind, _, ok := ParseTopic(topic); ok {
			if app == "" || kind == "" || strings.Contains(app, "/") {
				t.Fatalf("ParseTopic(%q) = %q %q", topic, app, kind)
			}
		}
		if p, err := DecodeStatus(b); err == nil && p.Schema != SchemaStatus {
			t.Fatal("status schema")
		}
		_, _ = DecodeInfo(b)
		if _, ok, err := DecodeDevice(b); ok && err != nil {
			t.Fatal("device ok with error")
		}
		if p, err := DecodeEvent(b); err == nil && p.Type == "" {
			t.Fatal("event without type")
		}
	})
}

func TestDecodeGoldenAndBounds(t *testing.T) {
	b, _ := os.ReadFile("testdata/event.json")
	ev, err := DecodeEvent(b)
	if err != nil || !ev.Historical || ev.Seq != 1034 || ev.Data["maker"] != "hikvision" {
		t.Fatalf("%v %+v", err, ev)
	}
	big := make([]byte, MaxPayload+1)
	if _, err := DecodeEvent(big); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("oversized payload: %v", err)
	}
	if _, ok, err := DecodeDevice(nil); ok || err != nil {
		t.Fatal("empty device payload is a clear, not an error")
	}
	if _, err := DecodeStatus(b); err == nil {
		t.Fatal("event accepted as status")
	}
	for topic, want := range map[string][3]string{
		"camwarden/v1/a/status":        {"a", "status", ""},
		"camwarden/v1/a/devices/aa:bb": {"a", "devices", "aa:bb"},
		"camwarden/v1/a/evt/relay_cut": {"a", "evt", "relay_cut"},
	} {
		a, k, r, ok := ParseTopic(topic)
		if !ok || [3]string{a, k, r} != want {
			t.Fatalf("ParseTopic(%q) = %q %q %q %v", topic, a, k, r, ok)
		}
	}
	for _, bad := range []string{"camwarden/v1/", "camwarden/v1/a", "other/v1/a/status", "camwarden/v1//status"} {
		if _, _, _, ok := ParseTopic(bad); ok {
			t.Fatalf("ParseTopic(%q) ok", bad)
		}
	}
}
