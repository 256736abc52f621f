//go:build unix

package update

import "syscall"

func sysExec(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }
