package update

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"

	"github.com/camwarden/camwarden/firmware/atomicfile"
)

// Step names a point in the update path where tests inject a crash.
type Step string

const (
	StepDownload  Step = "download"   // part of the binary downloaded
	StepVerify    Step = "verify"     // downloaded, hash being checked
	StepWriteSlot Step = "write_slot" // half the slot's temporary file written
	StepSwitch    Step = "switch"     // slot complete, state not yet switched
	StepTrial     Step = "trial"      // trial process started, gate not yet run
	StepGate      Step = "gate"       // gate running
	StepCommit    Step = "commit"     // gate passed, commit not yet written
)

// Steps lists every step in order.
var Steps = []Step{StepDownload, StepVerify, StepWriteSlot, StepSwitch, StepTrial, StepGate, StepCommit}

// ErrInjected is what a fault hook returns in tests.
var ErrInjected = errors.New("injected crash")

// Slot names. SlotFactory is the binary the package installed (the
// launcher itself); it is the rollback target until a first commit.
const (
	SlotA       = "a"
	SlotB       = "b"
	SlotFactory = ""
)

// MaxFailedHashes bounds the remembered failed images.
const MaxFailedHashes = 64

// SlotInfo is what a slot holds.
type SlotInfo struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// Trial is an installed release on trial.
type Trial struct {
	Slot          string    `json:"slot"`
	Version       string    `json:"version"`
	SHA256        string    `json:"sha256"`
	SecurityEpoch uint64    `json:"security_epoch"`
	IssuedAt      time.Time `json:"issued_at"`
	// Attempts counts starts of the trial slot; Boot increments it before
	// each start, so a boot loop ends in a rollback.
	Attempts int `json:"attempts"`
	// BrokerWasUp records whether the broker was reachable when the
	// release was installed: the gate demands it again only then.
	BrokerWasUp bool      `json:"broker_was_up"`
	InstalledAt time.Time `json:"installed_at"`
	// MinTrialSeconds is the release's minimum healthy period, kept here
	// because the trial process does not fetch the metadata again.
	MinTrialSeconds int64 `json:"min_trial_seconds,omitempty"`
}

// Outcome is the last finished update, reported on ota/status.
type Outcome struct {
	State   string    `json:"state"`
	Version string    `json:"version"`
	Code    string    `json:"code,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
	// Job identifies the job (version@repository) so a redelivered job
	// that failed permanently is not retried.
	Job string `json:"job,omitempty"`
}

// State is the persisted state machine (state.json).
type State struct {
	Active   string              `json:"active"`   // SlotA, SlotB or SlotFactory
	Previous string              `json:"previous"` // the slot that was active before the last commit
	Slots    map[string]SlotInfo `json:"slots"`
	Trial    *Trial              `json:"trial,omitempty"`
	// EpochFloor is the highest security epoch ever committed.
	EpochFloor uint64 `json:"epoch_floor"`
	// MetadataFloor is the issued_at of the committed release's metadata:
	// older metadata is a replay and is refused, so a downgrade needs
	// freshly signed metadata.
	MetadataFloor time.Time `json:"metadata_floor"`
	FailedHashes  []string  `json:"failed_hashes"`
	Last          *Outcome  `json:"last,omitempty"`
}

// ActiveVersion is the version of the active slot ("" for the factory binary).
func (s *State) ActiveVersion() string { return s.Slots[s.Active].Version }

func (s *State) failed(sha string) bool {
	for _, h := range s.FailedHashes {
		if h == sha {
			return true
		}
	}
	return false
}

func (s *State) addFailed(sha string) {
	if sha == "" || s.failed(sha) {
		return
	}
	s.FailedHashes = append(s.FailedHashes, sha)
	if n := len(s.FailedHashes) - MaxFailedHashes; n > 0 {
		s.FailedHashes = s.FailedHashes[n:]
	}
}

// other returns the slot that is not active (the install target).
func (s *State) other() string {
	if s.Active == SlotA {
		return SlotB
	}
	return SlotA
}

// Store is the update state directory:
//
//	state.json       State, replaced atomically
//	slots/a slots/b  the two slot binaries
//	download.part    a download in progress (download.json says of what)
type Store struct {
	dir   string
	fault func(Step) error // tests only
}

const (
	fileState    = "state.json"
	filePart     = "download.part"
	filePartMeta = "download.json"
	dirSlots     = "slots"
)

// OpenStore creates dir and dir/slots (0755: the slots are executables).
func OpenStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("update: store: no directory")
	}
	if err := os.MkdirAll(filepath.Join(dir, dirSlots), 0o755); err != nil {
		return nil, fmt.Errorf("update: store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// SlotPath is the binary of slot ("" for the factory slot).
func (s *Store) SlotPath(slot string) string {
	if slot == SlotFactory {
		return ""
	}
	return filepath.Join(s.dir, dirSlots, slot)
}

func (s *Store) hit(step Step) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(step)
}

// Load reads state.json; a missing file is the factory state. A corrupt
// file (impossible with atomic writes, but disks fail) is reported: the
// caller falls back to the factory binary rather than guessing.
func (s *Store) Load() (State, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(s.dir, fileState))
	if errors.Is(err, fs.ErrNotExist) {
		return State{Slots: map[string]SlotInfo{}}, nil
	}
	if err != nil {
		return st, fmt.Errorf("update: state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return State{Slots: map[string]SlotInfo{}}, fmt.Errorf("update: state: %w", err)
	}
	if st.Slots == nil {
		st.Slots = map[string]SlotInfo{}
	}
	if st.Active != SlotA && st.Active != SlotB {
		st.Active = SlotFactory
	}
	if st.Trial != nil && st.Trial.Slot != SlotA && st.Trial.Slot != SlotB {
		st.Trial = nil
	}
	return st, nil
}

// Save replaces state.json atomically (temp, fsync, rename, fsync dir).
func (s *Store) Save(st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.dir, fileState), b, 0o644); err != nil {
		return fmt.Errorf("update: save state: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable (renameio does not sync the
// directory).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeSlot copies the verified file src into slot through a temporary
// file and a rename, so the slot holds either its old or the complete new
// binary; it checks the copy's hash before the rename.
func (s *Store) writeSlot(slot, src, wantSHA string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	dst := s.SlotPath(slot)
	t, err := renameio.TempFile(filepath.Dir(dst), dst)
	if err != nil {
		return err
	}
	defer t.Cleanup()
	h := sha256.New()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	half := st.Size() / 2
	if _, err := io.CopyN(io.MultiWriter(t, h), in, half); err != nil {
		return err
	}
	if err := s.hit(StepWriteSlot); err != nil {
		return err
	}
	if _, err := io.Copy(io.MultiWriter(t, h), in); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSHA {
		return fmt.Errorf("slot %s: copy has sha256 %s, want %s", slot, got, wantSHA)
	}
	if err := t.Chmod(0o755); err != nil {
		return err
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// fileSHA256 hashes a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
