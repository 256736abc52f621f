// Package atomicfile replaces files so that a reader, or the next boot
// after a power cut, finds either the old content or the new, never a
// mixture or an empty file: write a temporary file beside the target,
// fsync it, rename it over the target, fsync the directory.
//
// It is the one implementation of that for the appliance's state, the
// tools' outputs and the lab's files. On Linux and the other Unix systems
// it is github.com/google/renameio/v2, plus the directory fsync renameio
// leaves to its caller (without it the rename itself may be lost). renameio
// does not build on Windows, where camsim and the lab's tools must still
// build, so Windows gets the same steps by hand, less the directory fsync
// Windows has no call for.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, with exactly the permissions perm
// (the umask does not apply: state files must not become world-readable
// because of a shell's setting).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write is WriteFile for content produced as a stream: fill writes it into
// the temporary file. If fill fails, the target is left as it was and the
// temporary file removed.
func Write(path string, perm os.FileMode, fill func(io.Writer) error) error {
	return write(filepath.Clean(path), perm&os.ModePerm, fill)
}
