package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/report"
)

func TestSurveyReport(t *testing.T) {
	dir := t.TempDir()
	html, data := filepath.Join(dir, "site.html"), filepath.Join(dir, "site.json")
	devs := []report.Device{{MAC: "bc:ad:28:00:00:01", IP: "198.18.1.21", Maker: "hikvision", Brand: "LTS", Flagged: true,
		Action: "isolate", Status: report.StatusFlagged, Confidence: "definitive"}}
	pol := config.Policy{Allow: []config.Allow{{MAC: "02:00:00:00:00:09", Reason: "lobby camera, replacement booked", Expires: time.Now().Add(240 * time.Hour)}}}
	if err := writeSurveyReport(html, data, "eth1", devs, pol); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(html)
	raw, _ := os.ReadFile(data)
	sum := sha256.Sum256(raw)
	for _, want := range []string{"Site surveyed on eth1", "LTS → Hikvision", "lobby camera, replacement booked", hex.EncodeToString(sum[:])} {
		if !strings.Contains(string(page), want) {
			t.Errorf("survey report lacks %q", want)
		}
	}
}
