package cliflag

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
)

func newSet() (*flag.FlagSet, *bool, *string) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, fs.Bool("json", false, ""), fs.String("config", "", "")
}

func TestParseAnywhere(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		json   bool
		config string
		rest   []string
	}{
		{[]string{"capture.pcap", "--json"}, true, "", []string{"capture.pcap"}},
		{[]string{"--json", "capture.pcap"}, true, "", []string{"capture.pcap"}},
		{[]string{"a", "-config", "c.yaml", "b", "-json"}, true, "c.yaml", []string{"a", "b"}},
		{[]string{"a", "--config=c.yaml", "b"}, false, "c.yaml", []string{"a", "b"}},
		// a value that looks like an argument stays the flag's
		{[]string{"-config", "-", "x"}, false, "-", []string{"x"}},
		// -- ends the options; a lone - is an argument
		{[]string{"-json", "--", "-config", "x"}, true, "", []string{"-config", "x"}},
		{[]string{"-", "-json"}, true, "", []string{"-"}},
		{[]string{"--json=false", "f"}, false, "", []string{"f"}},
		{nil, false, "", []string{}},
	} {
		fs, js, cfg := newSet()
		if err := Parse(fs, tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if *js != tc.json || *cfg != tc.config || !slices.Equal(fs.Args(), tc.rest) {
			t.Errorf("%q: json %v config %q args %q; want %v %q %q", tc.args, *js, *cfg, fs.Args(), tc.json, tc.config, tc.rest)
		}
	}
}

func TestParseErrors(t *testing.T) {
	fs, _, _ := newSet()
	if err := Parse(fs, []string{"file", "--nope"}); err == nil || err.Error() != "flag provided but not defined: -nope" {
		t.Errorf("unknown flag after an argument: %v", err)
	}
	fs, _, _ = newSet()
	if err := Parse(fs, []string{"file", "-config"}); err == nil {
		t.Error("-config without a value accepted")
	}
	fs, _, _ = newSet()
	if err := Parse(fs, []string{"file", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h after an argument: %v", err)
	}
}
