package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
	fstore "github.com/camwarden/camwarden/ota/fleet"
	"github.com/camwarden/camwarden/ota/fleet/fleetsim"
	"github.com/camwarden/camwarden/ota/fleet/pgserver/pgtest"
)

// storeFleet runs `wardenctl ingest` against a real broker and database
// and publishes a small fleet: two sites, a flagged Hikvision sold as LTS,
// a clean Axis and a device under review. It returns the DSN once the
// store holds it all.
func storeFleet(t *testing.T) (dsn string, br *mosquittotest.Broker) {
	t.Helper()
	pg := pgtest.Start(t)
	br = mosquittotest.Start(t, mosquittotest.Config{})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("admin-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string)
	go func() {
		var out, errb bytes.Buffer
		code := run(ctx, []string{"ingest", "--db", pg.DSN(), "--broker", br.URL(), "--user", "admin", "--password-file", pw,
			"--client-id", "ingest-test"}, &out, &errb)
		done <- out.String() + errb.String() + "exit " + string(rune('0'+code))
	}()
	t.Cleanup(func() {
		cancel()
		if s := <-done; !strings.Contains(s, "exit 0") {
			t.Errorf("ingest: %s", s)
		}
	})
	pub, err := fleetsim.Connect(ctx, br.URL(), "sim", "admin", "admin-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	time.Sleep(300 * time.Millisecond) // subscribed
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	hik := report.Device{MAC: "bc:ad:28:00:00:01", IP: "198.18.1.21", Maker: "hikvision", Brand: "LTS", Model: "DS-2CD2385G1-I",
		Flagged: true, Confidence: "definitive", Action: "isolate", Status: report.StatusFlagged, FirstSeen: now,
		Evidence: []report.EvidenceItem{{Probe: "sadp", Detail: "model DS-2CD2385G1-I"}}}
	axis := report.Device{MAC: "00:40:8c:00:00:02", IP: "198.18.1.22", Maker: "axis", Model: "P3245", Confidence: "strong",
		Status: report.StatusClean, FirstSeen: now.Add(-30 * 24 * time.Hour)}
	review := report.Device{MAC: "02:00:00:00:00:03", IP: "198.18.1.23", Confidence: "weak", Status: report.StatusReview,
		Review: []string{"OUI says one maker, the web page another"}, Candidates: []string{"dahua", "uniview"}, FirstSeen: now}
	ms := []fstore.Publication{
		fstore.StatusPub("site1-a", 1, 1, now, report.Status{Online: true, Firmware: "1.4.0", PolicyVersion: 9, UplinkCut: true}),
		fstore.DevicePub("site1-a", 2, now, hik),
		fstore.DevicePub("site1-a", 3, now, axis),
		fstore.StatusPub("site2-b", 1, 3, now, report.Status{Online: true, Firmware: "1.4.0", PolicyVersion: 9}),
		fstore.DevicePub("site2-b", 2, now, review),
		fstore.EventPub("site1-a", 4, now.Add(time.Minute), report.EvtRelayCut, "", map[string]any{"macs": []string{hik.MAC}}, false),
		fstore.EventPub("site1-a", 5, now.Add(2*time.Minute), report.EvtAcknowledged, "", map[string]any{"source": "cmd:alice"}, false),
	}
	if err := pub.SendAll(ctx, ms, 10); err != nil {
		t.Fatal(err)
	}
	st, err := fstore.Open(ctx, pg.DSN(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		var n int
		_ = st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM devices) + (SELECT count(*) FROM events)`).Scan(&n)
		if n == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store holds %d of 5 rows", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return pg.DSN(), br
}

func TestExportAndWatchFromStore(t *testing.T) {
	dsn, br := storeFleet(t)
	ctx := context.Background()
	wctl := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != 0 {
			t.Fatalf("wardenctl %v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	csv := wctl("export", "--db", dsn)
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 4 {
		t.Fatalf("csv: %d lines, want header + 3:\n%s", len(lines), csv)
	}
	if !strings.Contains(csv, "site1-a,bc:ad:28:00:00:01,198.18.1.21,hikvision,LTS,DS-2CD2385G1-I") || !strings.Contains(csv, ",flagged,site1,") {
		t.Errorf("csv lacks the flagged camera:\n%s", csv)
	}
	var doc exportDoc
	if err := json.Unmarshal([]byte(wctl("export", "--db", dsn, "--format", "json", "--status", "review")), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Devices) != 1 || doc.Devices[0].Site != "site2" || len(doc.Devices[0].Candidates) != 2 {
		t.Errorf("json --status review: %+v", doc.Devices)
	}
	jl := wctl("export", "--db", dsn, "--format", "jsonl", "--site", "site1", "--maker", "axis,hikvision",
		"--first-seen-after", "2026-11-01T00:00:00Z")
	if n := strings.Count(jl, "\n"); n != 1 || !strings.Contains(jl, `"maker":"hikvision"`) {
		t.Errorf("jsonl site1, hikvision|axis, first seen in November: %d lines\n%s", n, jl)
	}
	// The broker alone still answers (retained messages, no database).
	bcsv := wctl("export", "--broker", br.URL(), "--user", "admin", "--password-file", writePW(t), "--maker", "hikvision")
	if n := strings.Count(bcsv, "\n"); n != 2 || !strings.Contains(bcsv, "bc:ad:28:00:00:01") {
		t.Errorf("broker export --maker hikvision:\n%s", bcsv)
	}
	w := wctl("watch", "--db", dsn, "--once")
	for _, want := range []string{"site1  online", "site2  online", "CUT", "1.4.0", "site2-b"} {
		if !strings.Contains(w, want) {
			t.Errorf("watch --db --once lacks %q:\n%s", want, w)
		}
	}
}

func writePW(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte("admin-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReportFromStore(t *testing.T) {
	dsn, _ := storeFleet(t)
	dir := t.TempDir()
	html, data := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.json")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"report", "--db", dsn, "--site", "site1", "--out", html, "--data", data}, &out, &errb); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errb.String())
	}
	page, _ := os.ReadFile(html)
	raw, _ := os.ReadFile(data)
	sum := sha256.Sum256(raw)
	digest := hex.EncodeToString(sum[:])
	for _, want := range []string{"Site site1", "LTS → Hikvision", "Uplink cut", "Cut acknowledged", "cmd:alice", "section 889", digest} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(string(page), "02:00:00:00:00:03") {
		t.Error("site1's report shows site2's device")
	}
	if !strings.Contains(out.String(), digest) {
		t.Errorf("report output does not print the digest of --data: %s", out.String())
	}
}
