package packaging

import (
	"os"
	"path/filepath"
	"testing"
)

// FindRoot from the package directory answers with a relative path and
// never needs the absolute one, which an unprivileged test user may not
// search when the checkout sits under /root (scripts/test-arm.sh).
func TestFindRootRelative(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if root != filepath.Join("..", "..") {
		t.Errorf("root %q, want ../..", root)
	}
	if _, err := os.Stat(filepath.Join(root, "scripts", "package", "build.go")); err != nil {
		t.Errorf("root %q is not this checkout: %v", root, err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	// From an absolute path, when this user may search it at all.
	if _, err := os.Stat(abs); err == nil {
		if got, err := FindRoot(filepath.Join(abs, "firmware", "config")); err != nil || got != abs {
			t.Errorf("from an absolute path: %q, %v; want %q", got, err, abs)
		}
	}
	// a tree with another module's go.mod is not ours
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := FindRoot(other); err == nil {
		t.Errorf("found %q above another module", got)
	}
}
