package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// Step names a point in the store's write path where tests inject a crash.
type Step string

const (
	StepVerified Step = "verified" // document verified, nothing written yet
	StepWrite    Step = "write"    // half of the temp file written
	StepRename   Step = "rename"   // temp file complete and synced, not yet renamed
	StepSwap     Step = "swap"     // renamed into place, not yet swapped in
)

// ErrInjected is what a fault hook returns in tests.
var ErrInjected = errors.New("injected failure")

// Store keeps the appliance's policy state in one directory. Every file is
// replaced atomically: written to a temporary file in the same directory,
// fsynced, renamed over the old one, and the directory fsynced, so a power
// cut leaves either the old or the new file, never a torn one.
type Store struct {
	dir   string
	fault func(Step) error // tests only
}

// Files in the store directory.
const (
	fileKeySet = "keyset.json" // root-signed key-set envelope, as received
	filePolicy = "policy.json" // signed policy envelope, as received
	fileState  = "state.json"  // version floor, source, newest signed time
	fileNonces = "nonces.json" // command nonces until their expiry
)

// OpenStore creates dir (0700) if needed.
func OpenStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("policy: store: no directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("policy: store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) hit(step Step) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(step)
}

// Read returns a stored file's content; (nil, nil) when it does not exist.
func (s *Store) Read(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("policy: store: %w", err)
	}
	return b, nil
}

// Write replaces a stored file atomically (see Store).
func (s *Store) Write(name string, data []byte) error {
	if err := s.write(name, data, false); err != nil {
		return fmt.Errorf("policy: store %s: %w", name, err)
	}
	return nil
}

// write is Write with the fault hooks of the policy path when faults is set.
func (s *Store) write(name string, data []byte, faults bool) error {
	path := filepath.Join(s.dir, name)
	t, err := renameio.TempFile(s.dir, path)
	if err != nil {
		return err
	}
	defer t.Cleanup()
	half := len(data) / 2
	if _, err := t.Write(data[:half]); err != nil {
		return err
	}
	if faults {
		if err := s.hit(StepWrite); err != nil {
			return err
		}
	}
	if _, err := t.Write(data[half:]); err != nil {
		return err
	}
	if err := t.Sync(); err != nil {
		return err
	}
	if faults {
		if err := s.hit(StepRename); err != nil {
			return err
		}
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return err
	}
	// renameio does not sync the directory: without it the rename itself
	// may not survive a power cut.
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
