//go:build !unix

package update

func sysExec(string, []string, []string) error { return ErrExecUnsupported }
