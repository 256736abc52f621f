// Package pgtest starts a private PostgreSQL for a test (see pgserver): it
// skips without the server installed, except under CI=true where it fails,
// because CI installs it and a skipped store test there hides a regression.
package pgtest

import (
	"os"
	"testing"

	"github.com/camwarden/camwarden/ota/fleet/pgserver"
)

// Require skips (or fails under CI=true) when PostgreSQL is not installed.
func Require(t testing.TB) {
	t.Helper()
	if _, err := pgserver.BinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: PostgreSQL is required (scripts/deps.sh installs it): %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// Start runs a server for the test; it is stopped and removed at cleanup.
func Start(t testing.TB) *pgserver.Server {
	t.Helper()
	Require(t)
	s, err := pgserver.Start("", pgserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log:\n%s", s.Log())
		}
		s.Remove()
	})
	return s
}
