package fleet_test

import (
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/ota/fleet"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/update"
)

// FuzzDecode: whatever a broker hands ingest, Decode returns an error or a
// message whose keys are within what the store accepts.
func FuzzDecode(f *testing.F) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, p := range []fleet.Publication{
		fleet.StatusPub("site1-a", 1, 2, now, report.Status{Online: true}),
		fleet.InfoPub("site1-a", 2, 2, now, "1.0", 3),
		fleet.DevicePub("site1-a", 3, now, report.Device{MAC: "02:00:00:00:00:01", Maker: "hikvision"}),
		fleet.ForgetPub("site1-a", "02:00:00:00:00:01"),
		fleet.EventPub("site1-a", 4, now, report.EvtAcknowledged, "", map[string]any{"source": "button"}, true),
		fleet.PolicyPub("site1-a", 5, now, policy.Report{Status: policy.StatusApplied, AppliedVersion: 3}),
		fleet.OTAPub("site1-a", 6, now, update.Status{State: "idle"}),
	} {
		f.Add(p.Topic, p.Payload)
	}
	f.Add("camwarden/v1/fleet/policy", []byte(`{}`))
	f.Add("camwarden/v1/a/devices/x/y", []byte(`{"schema":"camwarden.device/1","seq":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		m, err := fleet.Decode(topic, payload)
		if err != nil {
			return
		}
		if m.Seq > 1<<62 || m.Appliance == "" || m.Appliance == "fleet" || len(m.Appliance) > 256 || len(m.MAC) > 256 ||
			len(m.MsgID) > 256 || ((m.Kind == fleet.KindDevice || m.Kind == fleet.KindForget) && strings.Contains(m.MAC, "/")) {
			t.Fatalf("Decode(%q) accepted keys the store refuses: %+v", topic, m)
		}
		if !strings.HasPrefix(topic, "camwarden/v1/"+m.Appliance+"/") {
			t.Fatalf("appliance %q is not the topic's %q", m.Appliance, topic)
		}
		if m.Kind == 0 {
			t.Fatalf("no kind for %q", topic)
		}
	})
}
