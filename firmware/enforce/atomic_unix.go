//go:build !windows

package enforce

import "github.com/google/renameio/v2"

// writeAtomic writes a temp file in the same directory, fsyncs and renames
// it over path (renameio), so readers see the old or the new state, never
// a torn one.
func writeAtomic(path string, data []byte) error {
	return renameio.WriteFile(path, data, 0o600)
}
