// Command wardenctl is the central tool for camwarden fleets: it watches the
// fleet and exports camera inventories (and, from other files in this
// directory, manages keys, policies and releases).
//
// Each subcommand lives in its own file and registers itself from init:
//
//	func init() { register("policy", "sign and push a policy", runPolicy) }
//
// main only dispatches.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// Command runs one subcommand with its arguments (after the name). It writes
// its output to out; errors go back to main, which prints them once.
type Command func(ctx context.Context, args []string, out io.Writer) error

type entry struct {
	summary string
	run     Command
}

var commands = map[string]entry{}

// register adds a subcommand; called from the init of the file that
// implements it.
func register(name, summary string, run Command) {
	if _, dup := commands[name]; dup {
		panic("wardenctl: subcommand registered twice: " + name)
	}
	commands[name] = entry{summary, run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: wardenctl <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'wardenctl <command> -h' for its flags.")
}

// run dispatches args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	e, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "wardenctl: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := e.run(ctx, args[1:], stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "wardenctl %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
