package fleet_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
	"github.com/camwarden/camwarden/ota/fleet"
	"github.com/camwarden/camwarden/ota/fleet/fleetsim"
	"github.com/camwarden/camwarden/ota/fleet/pgserver/pgtest"
)

// siteBridgeConf is the site broker's configuration as the README gives
// it: appliances publish to the site; the bridge forwards their up-link to
// the central broker with a persistent session and brings the down-link
// back.
const siteBridgeConf = `user root
listener %[1]d 127.0.0.1
allow_anonymous true
persistence true
persistence_location %[2]s/
connection central
address 127.0.0.1:%[3]d
remote_clientid bridge-%[4]s
remote_username admin
remote_password admin-pw
cleansession false
start_type automatic
restart_timeout 1 5
topic camwarden/v1/+/status out 1
topic camwarden/v1/+/info out 1
topic camwarden/v1/+/devices/+ out 1
topic camwarden/v1/+/evt/+ out 1
topic camwarden/v1/+/policy/reported out 1
topic camwarden/v1/+/ota/status out 1
topic camwarden/v1/+/policy in 1
topic camwarden/v1/+/cmd/# in 1
topic camwarden/v1/+/ota/job in 1
topic camwarden/v1/fleet/# in 1
`

// TestSiteBrokerBridge: an appliance publishes to its site's mosquitto,
// which bridges to the central one, where ingest reads.
func TestSiteBrokerBridge(t *testing.T) {
	pg := pgtest.Start(t)
	central := mosquittotest.Start(t, mosquittotest.Config{})
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sitePort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, siteBridgeConf, sitePort, dir, central.Port, "site4"), 0o600); err != nil {
		t.Fatal(err)
	}
	site := exec.Command(mosquittotest.Binary, "-c", conf)
	log := &lockedBuf{}
	site.Stdout, site.Stderr = log, log
	if err := site.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = site.Process.Kill()
		_ = site.Wait()
		if t.Failed() {
			t.Logf("site broker log:\n%s", log.String())
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := fleet.Open(ctx, pg.DSN(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ictx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		o := paho.NewClientOptions().AddBroker(central.URL()).SetClientID("ingest-central").SetUsername("admin").SetPassword("admin-pw")
		done <- fleet.Ingest(ictx, st, fleet.IngestOptions{Client: o, Group: "fleet"}, nil)
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	pub, err := fleetsim.Connect(ctx, fmt.Sprintf("tcp://127.0.0.1:%d", sitePort), "site4-cam-a", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	now := time.Now()
	dev := report.Device{MAC: "bc:ad:28:00:00:07", Maker: "hikvision", Flagged: true, Status: report.StatusFlagged, Action: "isolate"}
	if err := pub.SendAll(ctx, []fleet.Publication{
		fleet.StatusPub("site4-cam-a", 1, 1, now, report.Status{Online: true, Firmware: "1.4.0"}),
		fleet.DevicePub("site4-cam-a", 2, now, dev),
		fleet.EventPub("site4-cam-a", 3, now, report.EvtDeviceFlagged, dev.MAC, map[string]any{"maker": "hikvision"}, false),
	}, 3); err != nil {
		t.Fatal(err)
	}
	if n := waitCount(t, st.Pool(), 3, 20*time.Second, `SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM devices WHERE status = 'flagged')
		+ (SELECT count(*) FROM appliances WHERE online AND site = 'site4')`); n != 3 {
		t.Fatalf("central store holds %d of the 3 rows the site's appliance published", n)
	}
}
