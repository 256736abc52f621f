package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
)

// fleetBroker starts mosquitto with two appliances' retained state: app1
// online with two cameras (one flagged, uplink cut), app2 cleanly offline
// with one camera left after a Forget.
func fleetBroker(t *testing.T) (*mosquittotest.Broker, string) {
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app1": "pw1", "app2": "pw2"}})
	ctx := context.Background()
	appl := func(id string) *mqtt.Client {
		c, err := mqtt.Dial(mqtt.Options{Broker: b.URL(), ApplianceID: id, Username: id, Password: b.Users[id],
			OutboxPath: filepath.Join(t.TempDir(), "o.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := c.WaitConnected(wctx); err != nil {
			t.Fatal(err)
		}
		return c
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	a1 := appl("app1")
	must(a1.Status(ctx, report.Status{Firmware: "1.4.0", PolicyVersion: 12, Interfaces: []string{"eth0"}, Devices: 2, Flagged: 1, UplinkCut: true}))
	must(a1.Device(ctx, report.Device{MAC: "bc:ad:28:00:00:01", IP: "198.18.1.21", Maker: "hikvision", Brand: "LTS",
		Model: "DS-2CD2385G1-I", Serial: "DS-2CD2385G1-I20200101AAWRD12345678", Firmware: "V5.6.3", Flagged: true,
		Confidence: "definitive", Action: "isolate",
		Evidence: []report.EvidenceItem{{Probe: "sadp", Detail: "model DS-2CD2385G1-I"}, {Probe: "oui", Detail: "Hangzhou Hikvision"}}}))
	must(a1.Device(ctx, report.Device{MAC: "00:40:8c:00:00:02", IP: "198.18.1.22", Maker: "axis", Model: "P3245-LV",
		Confidence: "strong", Evidence: []report.EvidenceItem{{Probe: "http", Detail: "server: AXIS, \"quoted\""}}}))
	a2 := appl("app2")
	must(a2.Status(ctx, report.Status{Firmware: "1.3.9", PolicyVersion: 11, Devices: 1}))
	must(a2.Device(ctx, report.Device{MAC: "e0:50:8b:00:00:03", IP: "198.18.1.23", Maker: "dahua", Flagged: true, Confidence: "strong"}))
	must(a2.Device(ctx, report.Device{MAC: "e0:50:8b:00:00:04", IP: "198.18.1.24", Maker: "dahua"}))
	must(a2.Forget(ctx, "e0:50:8b:00:00:04"))
	must(a2.Close())

	pwf := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwf, []byte(b.Users[mosquittotest.AdminUser]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return b, pwf
}

func runCmd(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if code := run(ctx, args, &out, &errb); code != 0 {
		t.Fatalf("wardenctl %v: exit %d: %s", args, code, errb.String())
	}
	return out.String()
}

func TestWatchOnceAndExport(t *testing.T) {
	b, pwf := fleetBroker(t)
	conn := []string{"--broker", b.TLSURL(), "--ca", b.CAFile, "--user", mosquittotest.AdminUser, "--password-file", pwf, "--timeout", "5s"}

	table := runCmd(t, append([]string{"watch", "--once"}, conn...)...)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 {
		t.Fatalf("want header + 2 appliances:\n%s", table)
	}
	f1, f2 := strings.Fields(lines[1]), strings.Fields(lines[2])
	// APPLIANCE STATE SESSION LAST-SEEN(3 fields) CAMERAS FLAGGED UPLINK FIRMWARE POLICY
	if len(f1) != 11 || f1[0] != "app1" || f1[1] != "online" || f1[6] != "2" || f1[7] != "1" || f1[8] != "CUT" || f1[9] != "1.4.0" || f1[10] != "12" {
		t.Fatalf("app1 row: %q\n%s", f1, table)
	}
	if len(f2) != 11 || f2[0] != "app2" || f2[1] != "offline" || f2[6] != "1" || f2[7] != "1" || f2[8] != "ok" {
		t.Fatalf("app2 row: %q\n%s", f2, table)
	}
	t.Logf("\n%s", table)

	// CSV through mutual TLS, to a file.
	cert, key := b.ClientCert(mosquittotest.AdminUser)
	out := filepath.Join(t.TempDir(), "inv.csv")
	msg := runCmd(t, "export", "--format", "csv", "--broker", b.MTLSURL(), "--ca", b.CAFile, "--cert", cert, "--key", key,
		"--timeout", "5s", "--out", out)
	if !strings.Contains(msg, "3 devices from 2 appliances") {
		t.Fatalf("export said %q", msg)
	}
	raw, _ := os.ReadFile(out)
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0][0] != "appliance" {
		t.Fatalf("csv:\n%s", raw)
	}
	hik := recs[2] // app1 sorted by MAC: 00:40:8c… then bc:ad:28…
	if hik[1] != "bc:ad:28:00:00:01" || hik[3] != "hikvision" || hik[4] != "LTS" || hik[8] != "true" || hik[10] != "isolate" ||
		hik[15] != "sadp: model DS-2CD2385G1-I; oui: Hangzhou Hikvision" {
		t.Fatalf("hikvision row %q", hik)
	}
	if recs[1][15] != `http: server: AXIS, "quoted"` {
		t.Fatalf("evidence with quotes and commas must survive CSV: %q", recs[1][15])
	}

	js := runCmd(t, append([]string{"export", "--format", "json"}, conn...)...)
	var doc exportDoc
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Appliances != 2 || len(doc.Devices) != 3 || doc.Devices[2].Appliance != "app2" || doc.Devices[2].Maker != "dahua" ||
		len(doc.Devices[1].Evidence) != 2 {
		t.Fatalf("json:\n%s", js)
	}
}

func TestWatchLinesWhenNotATTY(t *testing.T) {
	b, pwf := fleetBroker(t)
	var out syncBuf
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"watch", "--broker", b.URL(), "--user", mosquittotest.AdminUser, "--password-file", pwf}, &out, os.Stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "appliance=app2 state=offline") {
		if time.Now().After(deadline) {
			t.Fatalf("no line for app2:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Fatal("escape codes written to a non-terminal")
	}
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"nope"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "watch") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"export", "--format", "xml", "--broker", "tcp://127.0.0.1:1"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "csv, json or jsonl") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestStatusOrdering(t *testing.T) {
	st := func(session, seq uint64, online bool) *mqtt.StatusPayload {
		p := &mqtt.StatusPayload{Session: session}
		p.Seq, p.Online = seq, online
		return p
	}
	for _, c := range []struct {
		name string
		a, b *mqtt.StatusPayload
		want bool
	}{
		{"will of same session beats later online", st(5, 10, false), st(5, 40, true), true},
		{"late will of old session ignored", st(4, 90, false), st(5, 40, true), false},
		{"online does not revive an offline session", st(5, 50, true), st(5, 10, false), false},
		{"newer online of same session", st(5, 50, true), st(5, 40, true), true},
		{"older online of same session", st(5, 30, true), st(5, 40, true), false},
		{"new session online after will", st(6, 60, true), st(5, 10, false), true},
	} {
		if got := newer(c.a, c.b); got != c.want {
			t.Errorf("%s: newer = %v", c.name, got)
		}
	}
}
