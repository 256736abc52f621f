package update

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/renameio/v2"

	"github.com/camwarden/camwarden/firmware/atomicfile"
	"github.com/camwarden/camwarden/ota/sign"
)

// Spec describes a release for WriteRelease.
type Spec struct {
	Version       string
	SecurityEpoch uint64
	IssuedAt      time.Time
	Expires       time.Time
	Binaries      map[string]string // arch -> path of the binary
	MinTrial      time.Duration     // Release.MinTrialSeconds (whole seconds)
}

// WriteRelease writes a static repository into dir: each binary copied to
// targets/<sha256> (content-addressed, so releases share unchanged
// binaries and a URL never changes meaning) and the release metadata,
// signed with key (a firmware key of the key set), to
// releases/<version>.json. Binaries are written before the metadata that
// names them, so a half-written repository never serves metadata whose
// targets are missing. It returns the release.
func WriteRelease(dir string, key sign.PrivateKey, s Spec) (*Release, error) {
	if key.Role != sign.RoleFirmware {
		return nil, fmt.Errorf("update: release: key %s has role %q, want firmware", key.ID, key.Role)
	}
	if len(s.Binaries) == 0 {
		return nil, errors.New("update: release: no binaries")
	}
	r := &Release{Type: ReleaseType, Version: s.Version, SecurityEpoch: s.SecurityEpoch, MinTrialSeconds: int64(s.MinTrial / time.Second),
		IssuedAt: s.IssuedAt.UTC().Truncate(time.Second), Expires: s.Expires.UTC().Truncate(time.Second)}
	arches := make([]string, 0, len(s.Binaries))
	for a := range s.Binaries {
		arches = append(arches, a)
	}
	slices.Sort(arches)
	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		return nil, fmt.Errorf("update: release: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "releases"), 0o755); err != nil {
		return nil, fmt.Errorf("update: release: %w", err)
	}
	for _, arch := range arches {
		t, err := copyTarget(dir, s.Binaries[arch])
		if err != nil {
			return nil, fmt.Errorf("update: release: --bin %s: %w", arch, err)
		}
		t.Arch = arch
		r.Targets = append(r.Targets, t)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("update: release: %w", err)
	}
	env := sign.Sign(key, r.Marshal())
	if err := atomicfile.WriteFile(filepath.Join(dir, ReleasePath(r.Version)), append(env.Marshal(), '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("update: release: %w", err)
	}
	return r, nil
}

func copyTarget(dir, src string) (Target, error) {
	in, err := os.Open(src)
	if err != nil {
		return Target{}, err
	}
	defer in.Close()
	tmp, err := renameio.TempFile(filepath.Join(dir, "targets"), filepath.Join(dir, "targets", "incoming"))
	if err != nil {
		return Target{}, err
	}
	defer tmp.Cleanup()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(in, MaxBinary+1))
	if err != nil {
		return Target{}, err
	}
	if n > MaxBinary {
		return Target{}, fmt.Errorf("more than %d bytes", MaxBinary)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := tmp.Sync(); err != nil {
		return Target{}, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return Target{}, err
	}
	if err := tmp.Close(); err != nil {
		return Target{}, err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, "targets", sum)); err != nil {
		return Target{}, err
	}
	if err := syncDir(filepath.Join(dir, "targets")); err != nil {
		return Target{}, err
	}
	return Target{URL: "targets/" + sum, Size: n, SHA256: sum}, nil
}
