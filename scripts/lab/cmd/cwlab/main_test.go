package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/scripts/lab"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// Its own prefix: the lab package's tests use cwt-lab and may run at the
// same time.
const prefix = "cwt-lab2"

func TestNeedsRoot(t *testing.T) {
	defer func(f func() error) { checkLab = f }(checkLab)
	checkLab = func() error { return lab.ErrNotRoot }
	for cmd, hint := range map[string]string{"up": "needs root: sudo make lab-up", "down": "needs root: sudo make lab-down"} {
		err := run(context.Background(), []string{cmd, "--prefix", prefix}, nil, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || err.Error() != hint {
			t.Errorf("%s without root: %v, want %q", cmd, err, hint)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"up", "extra"}, {"exec", "pc"}, {"exec", "pc", "--"}, {"ping", "pc"}, {"ping", "--count", "99", "pc", "core"}} {
		err := run(context.Background(), args, nil, &bytes.Buffer{}, &bytes.Buffer{})
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

func TestStatusWhenDown(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"status", "--prefix", prefix, "--state-dir", t.TempDir()}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "lab "+prefix+" is down") {
		t.Errorf("status: %s", out.String())
	}
}

// The isolate demo by hand: up, ping the core, cut the uplink from inside
// the gateway, ping fails, status shows the cut, down twice.
func TestUpPingCutDown(t *testing.T) {
	labtest.RequireRoot(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(spec, []byte("devices: [{profile: dahua}, {profile: pc}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	common := []string{"--prefix", prefix, "--state-dir", state}
	cw := func(args ...string) (string, error) {
		var out bytes.Buffer
		a := append([]string{args[0]}, common...)
		err := run(ctx, append(a, args[1:]...), nil, &out, &out)
		return out.String(), err
	}
	t.Cleanup(func() { cw("down") })

	out, err := cw("up", "--spec", spec, "--no-camsim")
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	if !strings.Contains(out, "namespaces 2/2") || !strings.Contains(out, "lab "+prefix+" up in") {
		t.Errorf("up progress:\n%s", out)
	}
	out, err = cw("status")
	if err != nil || !strings.Contains(out, "uplink "+prefix+"-gw/uplink: up") || !strings.Contains(out, "3c:ef:8c:c4:00:01") {
		t.Errorf("status: %v\n%s", err, out)
	}
	if out, err = cw("ping", "--count", "1", "dahua", "core"); err != nil || !strings.Contains(out, "1/1 replies: reachable") {
		t.Errorf("ping core: %v\n%s", err, out)
	}
	if out, err = cw("ping", "--count", "1", "pc", "198.18.1.10"); err != nil {
		t.Errorf("ping dahua from pc: %v\n%s", err, out)
	}
	if out, err = cw("exec", "dahua", "--", "ip", "-br", "addr", "show", "eth0"); err != nil || !strings.Contains(out, "198.18.1.10/24") {
		t.Errorf("exec: %v\n%s", err, out)
	}
	if _, err = cw("exec", "dahua", "--", "false"); !errors.Is(err, exitError(1)) {
		t.Errorf("exec false: %v, want exit status 1", err)
	}
	if out, err = cw("exec", "gw", "--", "ip", "link", "set", "uplink", "down"); err != nil {
		t.Fatalf("cut: %v\n%s", err, out)
	}
	if out, err = cw("ping", "--count", "1", "dahua", "core"); !errors.Is(err, exitError(1)) || !strings.Contains(out, "UNREACHABLE") {
		t.Errorf("ping core while cut: %v\n%s", err, out)
	}
	if out, _ = cw("status"); !strings.Contains(out, "DOWN (cut)") {
		t.Errorf("status while cut:\n%s", out)
	}
	for range 2 {
		if out, err = cw("down"); err != nil {
			t.Fatalf("down: %v\n%s", err, out)
		}
	}
	if lab.NamespaceExists(prefix + "-dahua") {
		t.Error("device namespace left after down")
	}
}
