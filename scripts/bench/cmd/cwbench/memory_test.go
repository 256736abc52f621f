//go:build linux

package main

import (
	"os"
	"strings"
	"testing"
)

// The memory run measures the daemon as the package starts it.
func TestMemLimitMatchesUnit(t *testing.T) {
	b, err := os.ReadFile("../../../systemd/camwarden.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nEnvironment=GOMEMLIMIT="+memLimit+"\n") {
		t.Fatalf("scripts/systemd/camwarden.service does not set GOMEMLIMIT=%s", memLimit)
	}
}

// GC trace lines give the live heap and are not counted as log lines.
func TestLineCounterReadsGCTrace(t *testing.T) {
	c := &lineCounter{}
	c.Write([]byte("time=x level=INFO msg=status\ngc 7 @2.1s 1%: 0.1+2+0.01 ms clock, 0.2+0/1/2+0.02 ms cpu, 14->15->9 MB, 16 MB goal, 0 MB stacks, 0 MB globals, 2 P\nlevel=INFO msg=dev"))
	c.Write([]byte("ice\n"))
	if c.n.Load() != 2 || c.liveMB.Load() != 9 {
		t.Fatalf("lines %d, live %d MB; want 2 and 9", c.n.Load(), c.liveMB.Load())
	}
}
