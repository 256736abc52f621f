// Command nfpmdeb writes one .deb from an nfpm YAML configuration, using nfpm
// as a library with only its deb packager linked in.
//
// It is its own module so that nfpm's dependencies (and the Go version it
// requires) stay out of camwarden's go.mod, and because the upstream nfpm
// command also links its rpm and msix packagers, whose modules the build
// machines cannot always fetch. The configuration is plain nfpm YAML, so the
// upstream `nfpm pkg --packager deb` builds the same package.
//
// Usage: go run . -config nfpm.yaml -target out.deb
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
)

func main() {
	cfgPath := flag.String("config", "", "nfpm YAML configuration")
	target := flag.String("target", "", "the .deb to write")
	flag.Parse()
	if *cfgPath == "" || *target == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: nfpmdeb -config nfpm.yaml -target out.deb")
		os.Exit(2)
	}
	if err := run(*cfgPath, *target); err != nil {
		fmt.Fprintf(os.Stderr, "nfpmdeb: %v\n", err)
		os.Exit(1)
	}
}

func run(cfgPath, target string) error {
	// No environment expansion: the caller writes every value into the file,
	// so the package cannot depend on whoever's shell ran the build.
	cfg, err := nfpm.ParseFileWithEnvMapping(cfgPath, func(string) string { return "" })
	if err != nil {
		return fmt.Errorf("parse %s: %w", cfgPath, err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	// Write beside the target and rename, so a failed build never leaves a
	// truncated package where a good one is expected.
	tmp, err := os.CreateTemp(filepath.Dir(target), ".nfpmdeb-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	info.Target = target
	if err := deb.Default.Package(info, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("package %s: %w", target, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}
