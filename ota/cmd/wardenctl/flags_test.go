package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Flags after a subcommand's arguments count: `keys rotate policy --dir D`
// rotates in D, not in the default directory.
func TestFlagsAfterArguments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"keys", "init", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("keys init: exit %d: %s", code, errb.String())
	}
	before, err := os.ReadDir(filepath.Join(dir, signingSubdir))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // the default ./keys must not be what is used
	if code := run(context.Background(), []string{"keys", "rotate", "policy", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("keys rotate policy --dir: exit %d: %s", code, errb.String())
	}
	after, err := os.ReadDir(filepath.Join(dir, signingSubdir))
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+1 {
		t.Errorf("signing keys %d -> %d, want one more", len(before), len(after))
	}
	// after --, a dash-led word is an argument (and here not a role)
	errb.Reset()
	if code := run(context.Background(), []string{"keys", "rotate", "--dir", dir, "--", "-policy"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "-policy") {
		t.Errorf("keys rotate -- -policy: exit %d: %s", code, errb.String())
	}
}
