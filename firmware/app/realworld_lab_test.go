package app_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes/classify/realworld"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
	"github.com/camwarden/camwarden/scripts/lab/replaylab"
)

// testLog hands replaylab's progress lines to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// Issue 13's promise about real devices: every entry of the real-world
// corpus, served by an emulated device whose web server answers unknown
// paths with 404, with 200 (a single-page UI) or with 401 (a whole site
// behind Digest auth), gets from the real `camwarden survey` the maker its
// entry expects, no review, and a flag exactly when the default policy
// flags that maker or component. The score table goes to the test log; a
// failure names each wrong entry with its facts and the survey's evidence.
func TestLabRealWorldReplay(t *testing.T) {
	labtest.RequireRoot(t)
	entries, err := realworld.Load()
	if err != nil {
		t.Fatal(err)
	}
	bin := binaries(t)
	start := time.Now()
	rep, err := replaylab.Run(context.Background(), entries, replaylab.Options{
		Camsim: filepath.Join(bin, "camsim"), Camwarden: filepath.Join(bin, "camwarden"),
		Prefix: "cwrt", StateDir: t.TempDir(), Log: testLog{t}, Parallel: 3,
	})
	if rep != nil {
		var tbl strings.Builder
		rep.WriteTable(&tbl)
		t.Logf("real-world replay: %d entries x %d server modes in %s\n%s", len(entries), 3,
			time.Since(start).Round(time.Millisecond), tbl.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Failures() {
		t.Error(f)
	}
}
