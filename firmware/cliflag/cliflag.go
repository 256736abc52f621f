// Package cliflag parses a command's flags wherever they stand among its
// arguments, as nmap, tshark and arp-scan do: `camwarden analyze
// capture.pcap --json` means what `camwarden analyze --json capture.pcap`
// means. The standard flag package stops at the first argument that is not
// a flag, which turns a trailing --json into a file name.
//
// `--` still ends the options: everything after it is an argument, even
// when it starts with a dash. A lone `-` is an argument (standard input by
// convention).
package cliflag

import "flag"

// Parse parses the flags defined in fs from anywhere in args; afterwards
// fs.Args() holds the other arguments in their order. Errors, -h and
// unknown flags are reported exactly as fs.Parse reports them.
func Parse(fs *flag.FlagSet, args []string) error {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		if takesValue(fs, a) {
			if i+1 == len(args) {
				// Last, without its value: fs.Parse says so.
				return fs.Parse(flags)
			}
			i++
			flags = append(flags, args[i])
		}
	}
	return fs.Parse(append(append(flags, "--"), rest...))
}

// takesValue reports whether the flag written as a (-name or --name, with
// no =value) consumes the next argument. Unknown flags do not: fs.Parse
// refuses them by name.
func takesValue(fs *flag.FlagSet, a string) bool {
	name := a[1:]
	if name[0] == '-' {
		name = name[1:]
	}
	for _, c := range name {
		if c == '=' {
			return false
		}
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return false
	}
	return true
}
