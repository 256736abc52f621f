//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes/classify/realworld"
	"github.com/camwarden/camwarden/scripts/lab/replaylab"
)

// maxListed bounds the wrong entries printed after the table; the lab test
// (firmware/app TestLabRealWorldReplay) lists them all.
const maxListed = 60

// benchRealworld replays the real-world corpus: every entry as an emulated
// device, in a web server that answers unknown paths with 404, with 200 and
// with 401, surveyed by the real camwarden, and prints the score table and
// the survey time of each lab.
func benchRealworld(ctx context.Context, cfg config) error {
	entries, err := realworld.Load()
	if err != nil {
		return err
	}
	// One lab at a time, so each batch's survey time is its own; the quick
	// smoke runs the three modes side by side.
	parallel := 1
	if cfg.quick {
		parallel = 3
	}
	start := time.Now()
	rep, err := replaylab.Run(ctx, entries, replaylab.Options{
		Camsim: filepath.Join(cfg.bin, "camsim"), Camwarden: filepath.Join(cfg.bin, "camwarden"),
		Prefix: prefix + "r", Parallel: parallel, Log: os.Stderr,
	})
	w := cfg.out
	fmt.Fprintf(w, "## realworld (issue 13): %d real-world corpus entries, each an emulated device, in three web server modes\n\n", len(entries))
	fmt.Fprintf(w, "Each entry's facts are served by camsim from a locally administered MAC; every device also runs a web server "+
		"that answers unknown paths with 404, with 200 (the root page) or with 401 (whole site behind a login). "+
		"`camwarden survey --json` runs in each lab. Right = maker (and brand, component) as the entry expects, no review, "+
		"flagged exactly when the default policy flags that maker or component; review = undetermined; "+
		"false flag = flagged though not expected; missed flag = expected but not flagged; not served = a fact camsim cannot say.\n\n")
	if rep != nil {
		rep.WriteTable(w)
		fmt.Fprintln(w)
		if fails := rep.Failures(); len(fails) > 0 {
			fmt.Fprintf(w, "%d entries not right:\n\n", len(fails))
			for i, f := range fails {
				if i == maxListed {
					fmt.Fprintf(w, "- ... %d more (go test -run TestLabRealWorldReplay ./firmware/app/ lists all)\n", len(fails)-maxListed)
					break
				}
				fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(f, "|", "/"))
			}
			fmt.Fprintln(w)
		}
	}
	labs := 0
	if rep != nil {
		labs = len(rep.Batches)
	}
	fmt.Fprintf(w, "Replay wall time: %.1f s (%d labs, %d at a time).\n\n", time.Since(start).Seconds(), labs, parallel)
	return err
}
