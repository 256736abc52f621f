package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/update"
)

func init() {
	register("release", "firmware: write a signed release repository (--version --epoch --expires --out --bin ARCH=PATH ...)", runRelease)
}

// binFlags collects repeated --bin ARCH=PATH.
type binFlags map[string]string

func (b binFlags) String() string { return fmt.Sprint(map[string]string(b)) }

func (b binFlags) Set(v string) error {
	arch, path, ok := strings.Cut(v, "=")
	if !ok || path == "" {
		return fmt.Errorf("%q: want ARCH=PATH", v)
	}
	if _, dup := b[arch]; dup {
		return fmt.Errorf("%s given twice", arch)
	}
	b[arch] = path
	return nil
}

// parseExpiry takes a duration from now (720h) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--expires %s: must be in the future", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--expires %q: want a duration (720h) or an RFC 3339 time", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("--expires %s: already past", s)
	}
	return t, nil
}

func runRelease(_ context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	keys := fs.String("keys", defaultKeyDir(), "key directory (env WARDENCTL_KEYS); signs with its current firmware key")
	version := fs.String("version", "", "release version (e.g. 1.5.0)")
	epoch := fs.Uint64("epoch", 1, "security epoch: raise it to forbid any downgrade below this release once committed")
	expires := fs.String("expires", "720h", "metadata lifetime (duration from now, or RFC 3339 time); re-release before it")
	outDir := fs.String("out", "", "repository directory to write (created; other releases in it are kept)")
	minTrial := fs.Duration("min-trial", 0, "how long the release must stay healthy on trial before it commits (whole seconds, at most 24h)")
	bins := binFlags{}
	fs.Var(bins, "bin", "ARCH=PATH of a binary (arm64, armv7, armv6, amd64); repeat per architecture")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *version == "":
		return errors.New("--version is required")
	case *outDir == "":
		return errors.New("--out is required")
	case len(bins) == 0:
		return errors.New("at least one --bin ARCH=PATH is required")
	case *epoch == 0:
		return errors.New("--epoch must be at least 1")
	case *minTrial < 0 || *minTrial > update.MaxMinTrial:
		return fmt.Errorf("--min-trial %s: want 0..%s", *minTrial, update.MaxMinTrial)
	}
	now := nowFn().UTC()
	exp, err := parseExpiry(*expires, now)
	if err != nil {
		return err
	}
	kd, err := loadKeyDir(*keys, false)
	if err != nil {
		return err
	}
	k, err := kd.signer(sign.RoleFirmware)
	if err != nil {
		return err
	}
	r, err := update.WriteRelease(*outDir, k, update.Spec{Version: *version, SecurityEpoch: *epoch, IssuedAt: now,
		Expires: exp, Binaries: bins, MinTrial: *minTrial})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "release %s (security epoch %d) signed by firmware key %s, expires %s\n", r.Version, r.SecurityEpoch,
		k.ID, r.Expires.Format(time.RFC3339))
	for _, t := range r.Targets {
		fmt.Fprintf(out, "  %-6s %10d bytes  %s\n", t.Arch, t.Size, t.URL)
	}
	fmt.Fprintf(out, "wrote %s/%s; serve the directory over HTTPS and: wardenctl ota push --version %s --repository https://...\n",
		*outDir, update.ReleasePath(r.Version), r.Version)
	return nil
}
