package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/ota/fleet"
	"github.com/camwarden/camwarden/ota/fleet/pgserver/pgtest"
)

func decode(t *testing.T, p fleet.Publication) fleet.Message {
	t.Helper()
	m, err := fleet.Decode(p.Topic, p.Payload)
	if err != nil {
		t.Fatalf("%s: %v", p.Topic, err)
	}
	return m
}

// TestApplyOrderAndRepeats feeds one device's reports and an appliance's
// statuses out of order and twice, as two processes on a shared
// subscription may see them, and checks what the store keeps.
func TestApplyOrderAndRepeats(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	st, err := fleet.Open(ctx, pg.DSN(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil { // a second process starting
		t.Fatal(err)
	}
	app, now := "site7-nvr-1", time.Now().UTC()
	clean := report.Device{MAC: "02:00:00:00:00:01", Maker: "axis", Status: report.StatusClean}
	flagged := report.Device{MAC: "02:00:00:00:00:01", Maker: "dahua", Brand: "Lorex", Status: report.StatusFlagged, Flagged: true, Action: "alert"}
	// seq 10 clean, 30 flagged arrive first; 20 flagged arrives late: the
	// change happened at 20, so 30 is no change.
	apply := func(ps ...fleet.Publication) {
		t.Helper()
		var ms []fleet.Message
		for _, p := range ps {
			ms = append(ms, decode(t, p))
		}
		if err := st.Apply(ctx, ms); err != nil {
			t.Fatal(err)
		}
	}
	apply(fleet.DevicePub(app, 10, now, clean), fleet.DevicePub(app, 30, now.Add(2*time.Second), flagged))
	apply(fleet.DevicePub(app, 20, now.Add(time.Second), flagged), fleet.DevicePub(app, 30, now.Add(2*time.Second), flagged))
	var seqs []int64
	rows, err := st.Pool().Query(ctx, `SELECT seq FROM device_history ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		_ = rows.Scan(&s)
		seqs = append(seqs, s)
	}
	if len(seqs) != 2 || seqs[0] != 10 || seqs[1] != 20 {
		t.Errorf("history seqs %v, want [10 20]", seqs)
	}
	var seq int64
	var status, site string
	if err := st.Pool().QueryRow(ctx, `SELECT d.seq, d.status, a.site FROM devices d JOIN appliances a ON a.id = d.appliance`).Scan(&seq, &status, &site); err != nil {
		t.Fatal(err)
	}
	if seq != 30 || status != "flagged" || site != "site7" {
		t.Errorf("device seq %d status %s site %s, want 30 flagged site7", seq, status, site)
	}
	// A late will (older session) must not mark a newer online offline;
	// within a session, offline is final.
	apply(fleet.StatusPub(app, 40, 5, now, report.Status{Online: true, Firmware: "2.0.0"}))
	apply(fleet.StatusPub(app, 35, 4, now, report.Status{Online: false, Firmware: "1.9.0"}))
	var online bool
	var fw string
	_ = st.Pool().QueryRow(ctx, `SELECT online, firmware FROM appliances WHERE id = $1`, app).Scan(&online, &fw)
	if !online || fw != "2.0.0" {
		t.Errorf("after a late will: online=%v firmware=%s, want true 2.0.0", online, fw)
	}
	apply(fleet.StatusPub(app, 39, 5, now, report.Status{Online: false}))
	apply(fleet.StatusPub(app, 45, 5, now, report.Status{Online: true}))
	_ = st.Pool().QueryRow(ctx, `SELECT online FROM appliances WHERE id = $1`, app).Scan(&online)
	if online {
		t.Error("an online status after the session's offline one won")
	}
	// Forgetting hides the device; a newer report brings it back.
	apply(fleet.ForgetPub(app, clean.MAC))
	var forgotten bool
	_ = st.Pool().QueryRow(ctx, `SELECT forgotten_at IS NOT NULL FROM devices`).Scan(&forgotten)
	if !forgotten {
		t.Error("forget not recorded")
	}
	apply(fleet.DevicePub(app, 50, now, flagged))
	_ = st.Pool().QueryRow(ctx, `SELECT forgotten_at IS NOT NULL FROM devices`).Scan(&forgotten)
	if forgotten {
		t.Error("a newer report did not bring the device back")
	}
}
