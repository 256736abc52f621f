package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
	"github.com/camwarden/camwarden/firmware/report/wire"
	"github.com/camwarden/camwarden/ota/sign"
)

func init() {
	register("keys", "signing keys: init | rotate ROLE | revoke KEYID | reset-floor VERSION | push | show", runKeys)
}

// Key directory layout. Private keys are 0600 and the directory 0700; the
// root key belongs offline: copy root.key away after init and bring it back
// only to rotate or revoke.
const (
	rootKeyFile   = "root.key"
	rootPubFile   = "root.pub" // base64, the appliances' policy.root_key
	keySetFile    = "keyset.json"
	signingSubdir = "signing"
)

// KeysTopic is where the root-signed key set is retained for the fleet.
const KeysTopic = wire.FleetTopic + "keys"

func defaultKeyDir() string {
	if d := os.Getenv("WARDENCTL_KEYS"); d != "" {
		return d
	}
	return "keys"
}

// nowFn is the tools' clock (tests move it).
var nowFn = time.Now

func runKeys(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("keys: want init, rotate, revoke, reset-floor, push or show")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	dir := fs.String("dir", defaultKeyDir(), "key directory (env WARDENCTL_KEYS)")
	switch sub {
	case "init":
		validity := fs.Duration("validity", 2*365*24*time.Hour, "how long the signing keys are valid")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		return keysInit(*dir, *validity, out)
	case "rotate":
		validity := fs.Duration("validity", 2*365*24*time.Hour, "how long the new key is valid")
		overlap := fs.Duration("overlap", 7*24*time.Hour, "how long the old keys of the role stay valid")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("keys rotate: want one ROLE (policy, command or firmware)")
		}
		role, err := sign.ParseRole(fs.Arg(0))
		if err != nil {
			return err
		}
		return keysRotate(*dir, role, *validity, *overlap, out)
	case "revoke":
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("keys revoke: want one KEYID")
		}
		return keysRevoke(*dir, fs.Arg(0), out)
	case "reset-floor":
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("keys reset-floor: want one VERSION (the highest policy version that stays valid)")
		}
		v, err := strconv.ParseUint(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("keys reset-floor: VERSION %q: want a whole number", fs.Arg(0))
		}
		return keysResetFloor(*dir, v, out)
	case "push":
		var b brokerFlags
		b.add(fs)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		kd, err := loadKeyDir(*dir, false)
		if err != nil {
			return err
		}
		if err := publishRetained(ctx, &b, KeysTopic, kd.rawKeySet); err != nil {
			return err
		}
		fmt.Fprintf(out, "pushed key set v%d to %s\n", kd.keySet.Version, KeysTopic)
		return nil
	case "show":
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		kd, err := loadKeyDir(*dir, false)
		if err != nil {
			return err
		}
		return showKeys(out, kd)
	}
	return fmt.Errorf("keys: unknown subcommand %q", sub)
}

// keyDir is a loaded key directory.
type keyDir struct {
	dir       string
	rootPub   []byte
	root      *sign.PrivateKey // nil unless asked for (it may be offline)
	keySet    *sign.KeySet
	rawKeySet []byte
}

func loadKeyDir(dir string, needRoot bool) (*keyDir, error) {
	pubText, err := os.ReadFile(filepath.Join(dir, rootPubFile))
	if err != nil {
		return nil, fmt.Errorf("key directory %s: %w (run wardenctl keys init)", dir, err)
	}
	pub, err := sign.ParsePublicKey(string(pubText))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rootPubFile, err)
	}
	kd := &keyDir{dir: dir, rootPub: pub}
	if needRoot {
		b, err := os.ReadFile(filepath.Join(dir, rootKeyFile))
		if err != nil {
			return nil, fmt.Errorf("root key: %w (bring the offline root key back to %s)", err, dir)
		}
		k, err := sign.ParsePrivate(b)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(k.Public(), pub) {
			return nil, fmt.Errorf("root key %s does not match %s", rootKeyFile, rootPubFile)
		}
		kd.root = &k
	}
	if kd.rawKeySet, err = os.ReadFile(filepath.Join(dir, keySetFile)); err != nil {
		return nil, err
	}
	env, err := sign.ParseEnvelope(kd.rawKeySet)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keySetFile, err)
	}
	if kd.keySet, err = sign.VerifyKeySet(env, pub, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", keySetFile, err)
	}
	return kd, nil
}

// signer returns the private key to sign role's documents with now.
func (kd *keyDir) signer(role sign.Role) (sign.PrivateKey, error) {
	k := kd.keySet.Active(role, nowFn())
	if k == nil {
		return sign.PrivateKey{}, fmt.Errorf("no valid %s key in key set v%d (wardenctl keys rotate %s)", role, kd.keySet.Version, role)
	}
	b, err := os.ReadFile(filepath.Join(kd.dir, signingSubdir, k.ID+".key"))
	if err != nil {
		return sign.PrivateKey{}, fmt.Errorf("%s key %s: %w", role, k.ID, err)
	}
	pk, err := sign.ParsePrivate(b)
	if err != nil {
		return sign.PrivateKey{}, err
	}
	if pk.ID != k.ID || pk.Role != role {
		return sign.PrivateKey{}, fmt.Errorf("%s key file %s does not hold that key", role, k.ID)
	}
	return pk, nil
}

// writeFile replaces a file atomically with perm.
func writeFile(path string, data []byte, perm fs.FileMode) error {
	return atomicfile.WriteFile(path, data, perm)
}

func newSigningKey(dir string, role sign.Role, now time.Time, validity time.Duration) (sign.Key, error) {
	k, err := sign.GenerateKey(role)
	if err != nil {
		return sign.Key{}, err
	}
	if err := writeFile(filepath.Join(dir, signingSubdir, k.ID+".key"), sign.MarshalPrivate(k), 0o600); err != nil {
		return sign.Key{}, err
	}
	// not_before an hour back: appliances' clocks run a little behind.
	return sign.Key{ID: k.ID, Role: role, Public: k.Public(), NotBefore: now.Add(-time.Hour).UTC(), NotAfter: now.Add(validity).UTC()}, nil
}

func keysInit(dir string, validity time.Duration, out io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, rootKeyFile)); err == nil {
		return fmt.Errorf("%s already holds a root key; refusing to overwrite it", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, signingSubdir), 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	root, err := sign.GenerateKey("")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, rootKeyFile), sign.MarshalPrivate(root), 0o600); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, rootPubFile), []byte(sign.EncodePublicKey(root.Public())+"\n"), 0o644); err != nil {
		return err
	}
	now := nowFn()
	ks := &sign.KeySet{Type: sign.KeySetType, Version: 1, IssuedAt: now.UTC(), Revoked: []string{}}
	for _, role := range sign.Roles {
		k, err := newSigningKey(dir, role, now, validity)
		if err != nil {
			return err
		}
		ks.Keys = append(ks.Keys, k)
	}
	kd := &keyDir{dir: dir, rootPub: root.Public(), root: &root}
	if err := kd.save(ks); err != nil {
		return err
	}
	fmt.Fprintf(out, "created keys in %s\nroot key id %s\n\nput this in every appliance's config:\n  policy:\n    root_key: %s\n\n"+
		"then move %s offline; it is needed only to rotate or revoke keys.\n",
		dir, root.ID, sign.EncodePublicKey(root.Public()), filepath.Join(dir, rootKeyFile))
	return showKeys(out, kd)
}

// save signs ks with the root key and writes it.
func (kd *keyDir) save(ks *sign.KeySet) error {
	if err := ks.Validate(); err != nil {
		return fmt.Errorf("key set: %w", err)
	}
	env := sign.Sign(*kd.root, ks.Marshal())
	raw := env.Marshal()
	if err := writeFile(filepath.Join(kd.dir, keySetFile), raw, 0o644); err != nil {
		return err
	}
	kd.keySet, kd.rawKeySet = ks, raw
	return nil
}

func (kd *keyDir) next() *sign.KeySet {
	ks := *kd.keySet
	ks.Keys = slices.Clone(ks.Keys)
	ks.Revoked = slices.Clone(ks.Revoked)
	// ks.PolicyReset is carried along (never modified, so shared): an
	// appliance applies a reset once (it is identified by its time), and
	// one whose state.json was lost learns it again from the key set.
	if ks.Revoked == nil {
		ks.Revoked = []string{}
	}
	ks.Version++
	ks.IssuedAt = nowFn().UTC()
	return &ks
}

func keysRotate(dir string, role sign.Role, validity, overlap time.Duration, out io.Writer) error {
	kd, err := loadKeyDir(dir, true)
	if err != nil {
		return err
	}
	now := nowFn()
	ks := kd.next()
	end := now.Add(overlap).UTC()
	// Old keys of the role stay valid for the overlap, so documents signed
	// just before the rotation still verify while the new set spreads;
	// keys already expired are dropped to keep the set small.
	kept := ks.Keys[:0]
	for _, k := range ks.Keys {
		if !k.NotAfter.IsZero() && !now.Before(k.NotAfter) {
			continue
		}
		if k.Role == role && (k.NotAfter.IsZero() || k.NotAfter.After(end)) {
			k.NotAfter = end
			if !k.NotAfter.After(k.NotBefore) {
				continue
			}
		}
		kept = append(kept, k)
	}
	ks.Keys = kept
	nk, err := newSigningKey(dir, role, now, validity)
	if err != nil {
		return err
	}
	// The new key is preferred by Active from now: its not_before is the
	// newest.
	nk.NotBefore = now.Add(-time.Minute).UTC()
	ks.Keys = append(ks.Keys, nk)
	if err := kd.save(ks); err != nil {
		return err
	}
	fmt.Fprintf(out, "new %s key %s; key set v%d (push it: wardenctl keys push)\n", role, nk.ID, ks.Version)
	return nil
}

func keysRevoke(dir, id string, out io.Writer) error {
	kd, err := loadKeyDir(dir, true)
	if err != nil {
		return err
	}
	if slices.Contains(kd.keySet.Revoked, id) {
		return fmt.Errorf("key %s is already revoked", id)
	}
	k := kd.keySet.Key(id)
	if k == nil {
		return fmt.Errorf("key %s is not in key set v%d", id, kd.keySet.Version)
	}
	ks := kd.next()
	ks.Keys = slices.DeleteFunc(ks.Keys, func(k sign.Key) bool { return k.ID == id })
	ks.Revoked = append(ks.Revoked, id)
	if err := kd.save(ks); err != nil {
		return err
	}
	fmt.Fprintf(out, "revoked %s key %s; key set v%d (push it: wardenctl keys push)\n", k.Role, id, ks.Version)
	if ks.Active(k.Role, nowFn()) == nil {
		fmt.Fprintf(out, "warning: no %s key left: wardenctl keys rotate %s\n", k.Role, k.Role)
	}
	return nil
}

// keysResetFloor signs a key set that lowers the appliances' policy version
// floor to v and voids every policy above v signed until now.
func keysResetFloor(dir string, v uint64, out io.Writer) error {
	if v == math.MaxUint64 {
		return fmt.Errorf("keys reset-floor: VERSION %d leaves no higher version for the next policy", v)
	}
	kd, err := loadKeyDir(dir, true)
	if err != nil {
		return err
	}
	ks := kd.next()
	ks.PolicyReset = &sign.PolicyReset{Floor: v, At: ks.IssuedAt.Truncate(time.Second)}
	if err := kd.save(ks); err != nil {
		return err
	}
	fmt.Fprintf(out, "key set v%d resets the policy version floor to %d and voids every policy above it signed before %s\n",
		ks.Version, v, ks.PolicyReset.At.Format(time.RFC3339))
	fmt.Fprintf(out, "push it (wardenctl keys push), then sign and push a policy with version %d or higher\n", v+1)
	return nil
}

func showKeys(out io.Writer, kd *keyDir) error {
	ks := kd.keySet
	fmt.Fprintf(out, "key set v%d issued %s, root %s\n", ks.Version, ks.IssuedAt.Format(time.RFC3339), sign.KeyID(kd.rootPub))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tROLE\tNOT BEFORE\tNOT AFTER\tACTIVE")
	now := nowFn()
	for _, k := range ks.Keys {
		active := ""
		if a := ks.Active(k.Role, now); a != nil && a.ID == k.ID {
			active = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Role, k.NotBefore.Format(time.RFC3339), k.NotAfter.Format(time.RFC3339), active)
	}
	for _, id := range ks.Revoked {
		fmt.Fprintf(tw, "%s\trevoked\t\t\t\n", id)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r := ks.PolicyReset; r != nil {
		fmt.Fprintf(out, "policy floor reset to %d at %s: policies above it signed before then are void\n", r.Floor, r.At.Format(time.RFC3339))
	}
	return nil
}
