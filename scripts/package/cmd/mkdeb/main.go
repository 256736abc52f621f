// Command mkdeb builds the camwarden .deb packages (see scripts/package):
//
//	go run ./scripts/package/cmd/mkdeb -version "$(git describe --tags --always --dirty)" -out dist
//
// main only parses flags; packaging.Build does the work.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	packaging "github.com/camwarden/camwarden/scripts/package"
)

func main() {
	version := flag.String("version", "", "version to stamp and package (git describe output); required")
	out := flag.String("out", "dist", "output directory")
	arches := flag.String("arch", "arm64,armhf", "comma-separated Debian architectures")
	maintainer := flag.String("maintainer", packaging.DefaultMaintainer, "Maintainer field")
	verbose := flag.Bool("v", false, "show the build tools' output")
	flag.Parse()
	if *version == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o := packaging.Options{Version: *version, OutDir: *out, Maintainer: *maintainer, Arches: strings.Split(*arches, ",")}
	if *verbose {
		o.Log = os.Stderr
	}
	debs, err := packaging.Build(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkdeb: %v\n", err)
		os.Exit(1)
	}
	for _, d := range debs {
		fmt.Printf("  %-52s %6.2f MiB\n", d.Path, float64(d.Size)/(1<<20))
	}
}
