package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes/camsim"
)

// --profiles looks the device up in the named file and nowhere else: a
// built-in name absent from the file is refused, as is a missing file.
func TestRunProfilesFile(t *testing.T) {
	dir := t.TempDir()
	data, err := camsim.MarshalProfiles([]camsim.Profile{{Name: "gen-1", Maker: "axis", HTTP: &camsim.HTTPProfile{Server: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "profiles.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--profile", "hikvision", "--profiles", file}, `no profile "hikvision"`},
		{[]string{"--profile", "gen-1", "--profiles", filepath.Join(dir, "nope.yaml")}, "no such file"},
		// Found in the file: it gets as far as the interface.
		{[]string{"--profile", "gen-1", "--profiles", file, "--iface", "no-such-if0"}, "no-such-if0"},
	} {
		// The last --iface wins, so the third case's stays.
		args := append([]string{"run", "--iface", "lo"}, tc.args...)
		err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}
