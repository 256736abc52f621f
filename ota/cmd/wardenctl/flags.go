package main

import (
	"flag"

	"github.com/camwarden/camwarden/firmware/cliflag"
)

// parseFlags parses a subcommand's flags wherever they stand among its
// arguments (`wardenctl keys rotate policy --validity 720h`), as camwarden
// does; `--` ends them.
func parseFlags(fs *flag.FlagSet, args []string) error {
	return cliflag.Parse(fs, args)
}
