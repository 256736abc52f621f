//go:build linux

package main

import (
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	c, err := parseArgs([]string{"--quick", "reaction", "--trials", "7"})
	if err != nil || c.what != "reaction" || !c.quick || c.trials != 7 {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = parseArgs(nil)
	if err != nil || c.what != "all" || c.trials != 100 {
		t.Fatalf("defaults %+v %v", c, err)
	}
	if c, _ := parseArgs([]string{"filter", "--quick"}); c.trials != 5 {
		t.Fatalf("quick trials %d", c.trials)
	}
	if c, err := parseArgs([]string{"all"}); err != nil || c.what != "all" {
		t.Fatalf("all alone: %+v %v", c, err)
	}
	if c, err := parseArgs([]string{"realworld", "--quick"}); err != nil || c.what != "realworld" {
		t.Fatalf("realworld: %+v %v", c, err)
	}
	if _, err := parseArgs([]string{"bogus"}); err == nil {
		t.Fatal("unknown benchmark accepted")
	}
}

func TestMarkerSeq(t *testing.T) {
	if n, ok := markerSeq([]byte("<Uuid>" + strings.ToUpper(marker) + "00000042</Uuid>")); !ok || n != 42 {
		t.Fatalf("%d %v", n, ok)
	}
	for _, p := range []string{"", marker, marker + "12", marker + "abcdefgh"} {
		if _, ok := markerSeq([]byte(p)); ok {
			t.Errorf("%q accepted", p)
		}
	}
}

func TestSelfCPU(t *testing.T) {
	if _, err := selfCPU(); err != nil {
		t.Fatal(err)
	}
}
