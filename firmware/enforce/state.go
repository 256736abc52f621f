package enforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
)

// stateFormat is bumped when persisted fields change meaning.
const stateFormat = 1

// maxStateFile bounds what loadState reads: the file is ours, but a full or
// corrupted disk must not make start-up allocate without limit.
const maxStateFile = 1 << 20

// persisted is the relay latch as written to disk. Only what is needed to
// re-apply a cut after a crash is kept; device presence is deliberately not
// persisted, because after a restart nobody knows which devices are still
// there, so the hold time starts again.
type persisted struct {
	Format        int       `json:"format"`
	Cut           bool      `json:"cut"`
	Since         time.Time `json:"since,omitzero"`
	Latched       []string  `json:"latched,omitempty"` // MACs of the devices that caused or kept the cut
	AckedAt       time.Time `json:"acked_at,omitzero"`
	AckedBy       string    `json:"acked_by,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	PolicyVersion uint64    `json:"policy_version"`
	Saved         time.Time `json:"saved"`
}

// writeState replaces path atomically: temp file, fsync, rename, then fsync
// of the directory so the rename itself survives a power cut.
func writeState(path string, p persisted) error {
	p.Format = stateFormat
	slices.Sort(p.Latched)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("enforce: encode state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("enforce: state dir: %w", err)
	}
	// Readers see the old or the new state, never a torn one, and the
	// rename survives a power cut (atomicfile syncs the directory too).
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("enforce: write state %s: %w", path, err)
	}
	return nil
}

// errNoState means there is no state file yet (first boot).
var errNoState = errors.New("enforce: no state file")

func loadState(path string) (persisted, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return persisted{}, errNoState
	}
	if err != nil {
		return persisted{}, fmt.Errorf("enforce: read state %s: %w", path, err)
	}
	defer f.Close()
	var p persisted
	dec := json.NewDecoder(&limitedReader{f, maxStateFile})
	if err := dec.Decode(&p); err != nil {
		return persisted{}, fmt.Errorf("enforce: parse state %s: %w", path, err)
	}
	if p.Format != stateFormat {
		return persisted{}, fmt.Errorf("enforce: state %s: format %d, want %d", path, p.Format, stateFormat)
	}
	return p, nil
}

type limitedReader struct {
	f interface{ Read([]byte) (int, error) }
	n int64
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("state file larger than %d bytes", maxStateFile)
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.f.Read(b)
	l.n -= int64(n)
	return n, err
}
