package update

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Environment the launcher hands to the slot binary it starts.
const (
	// EnvSlot names the slot a process was started in; its presence means
	// "the launcher already decided": Boot then only describes, it does
	// not count another start.
	EnvSlot = "CAMWARDEN_SLOT"
	// EnvLauncher is the launcher's path, so a slot process can go back
	// to it (Relaunch) after an install or a rollback.
	EnvLauncher = "CAMWARDEN_LAUNCHER"
)

// DefaultMaxBootAttempts is how many starts a trial gets before a boot
// loop is declared and the previous slot is started instead.
const DefaultMaxBootAttempts = 3

// Decision is what Boot decided: which binary runs and whether on trial.
type Decision struct {
	Slot    string // SlotA, SlotB or SlotFactory
	Path    string // the slot binary; "" = the launcher's own binary
	Version string // "" for the factory binary
	Trial   bool
	Attempt int // the start number of a trial (1..max)
	// Launch says this process is the launcher and must Exec Path.
	Launch bool
	// RolledBack is set when this Boot rolled a trial back (boot loop or
	// a slot binary that no longer hashes right).
	RolledBack *Outcome
	// Warning explains a fallback to another slot than the state named.
	Warning string
}

// BootOptions configure BootWith.
type BootOptions struct {
	Dir         string
	MaxAttempts int                 // default DefaultMaxBootAttempts
	Getenv      func(string) string // default os.Getenv
	Now         func() time.Time    // default time.Now
}

// Boot is the launcher logic every camwarden start runs first (see the
// package doc): it returns which slot to run and whether on trial. When
// Decision.Launch is set the caller Execs the slot binary; otherwise it
// carries on as itself. An error still comes with a usable decision (the
// factory binary).
func Boot(dir string) (Decision, error) { return BootWith(BootOptions{Dir: dir}) }

// BootWith is Boot with its dependencies injected.
func BootWith(o BootOptions) (Decision, error) {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxBootAttempts
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s, err := OpenStore(o.Dir)
	if err != nil {
		return Decision{}, err
	}
	st, err := s.Load()
	if err != nil {
		return Decision{Warning: "state unreadable: running the factory binary"}, err
	}
	if slot := o.Getenv(EnvSlot); slot == SlotA || slot == SlotB {
		// Started by the launcher: describe, do not count.
		d := Decision{Slot: slot, Path: s.SlotPath(slot), Version: st.Slots[slot].Version}
		if st.Trial != nil && st.Trial.Slot == slot {
			d.Trial, d.Attempt = true, st.Trial.Attempts
		}
		return d, nil
	}

	var d Decision
	if st.Trial != nil {
		t := st.Trial
		t.Attempts++
		if t.Attempts > o.MaxAttempts {
			out := rollback(&st, CodeBootLoop, fmt.Sprintf("%d starts without passing the health gate", t.Attempts-1), o.Now())
			d.RolledBack = &out
		} else if sha, err := fileSHA256(s.SlotPath(t.Slot)); err != nil || sha != t.SHA256 {
			out := rollback(&st, CodeCrash, fmt.Sprintf("slot %s binary does not match release %s", t.Slot, t.Version), o.Now())
			d.RolledBack = &out
		}
		if err := s.Save(st); err != nil {
			// Without a persisted count a boot loop could never end:
			// do not run the trial.
			if st.Trial != nil {
				rollback(&st, CodeInstall, "cannot count trial starts: "+err.Error(), o.Now())
			}
			d.Warning = "state not writable: " + err.Error()
		}
		if st.Trial != nil {
			return Decision{Slot: t.Slot, Path: s.SlotPath(t.Slot), Version: t.Version, Trial: true,
				Attempt: t.Attempts, Launch: true}, nil
		}
	}
	// The active slot, if its binary is still what was committed;
	// otherwise the previous one; otherwise the factory binary.
	for _, slot := range []string{st.Active, st.Previous} {
		if slot == SlotFactory {
			break
		}
		info := st.Slots[slot]
		if sha, err := fileSHA256(s.SlotPath(slot)); err == nil && sha == info.SHA256 {
			d.Slot, d.Path, d.Version, d.Launch = slot, s.SlotPath(slot), info.Version, true
			return d, nil
		}
		d.Warning = strings.TrimPrefix(d.Warning+"; slot "+slot+" binary does not match its release", "; ")
	}
	return d, nil
}

// ErrExecUnsupported is returned by Exec where the platform cannot replace
// the running program.
var ErrExecUnsupported = errors.New("update: exec not supported on this platform")

// execFn replaces the process image (syscall.Exec); tests swap it.
var execFn = sysExec

// ExecArgs is what Exec runs for d: the slot binary, args with args[0]
// replaced, and the environment with EnvSlot and EnvLauncher set.
func ExecArgs(d Decision, args, env []string, launcher string) (string, []string, []string) {
	argv := slices.Clone(args)
	if len(argv) == 0 {
		argv = []string{d.Path}
	} else {
		argv[0] = d.Path
	}
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if !strings.HasPrefix(kv, EnvSlot+"=") && !strings.HasPrefix(kv, EnvLauncher+"=") {
			out = append(out, kv)
		}
	}
	out = append(out, EnvSlot+"="+d.Slot, EnvLauncher+"="+launcher)
	return d.Path, argv, out
}

// Exec replaces this process (the launcher) with d's slot binary. It
// returns only on failure; the caller then runs as itself (the factory
// binary) after reporting, and a trial that cannot start is rolled back
// at the next Boot through its attempt counter.
func Exec(d Decision, args []string) error {
	if !d.Launch || d.Path == "" {
		return errors.New("update: exec: decision has nothing to launch")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("update: exec: %w", err)
	}
	path, argv, env := ExecArgs(d, args, os.Environ(), self)
	if err := execFn(path, argv, env); err != nil {
		return fmt.Errorf("update: exec %s: %w", path, err)
	}
	return nil
}

// Relaunch replaces this process with the launcher (EnvLauncher, or this
// binary when it was not started by one), so Boot decides afresh: after an
// install (to start the trial) or a rollback (to start the previous slot).
func Relaunch(args []string) error {
	path := os.Getenv(EnvLauncher)
	if path == "" {
		var err error
		if path, err = os.Executable(); err != nil {
			return fmt.Errorf("update: relaunch: %w", err)
		}
	}
	argv := slices.Clone(args)
	if len(argv) == 0 {
		argv = []string{path}
	} else {
		argv[0] = path
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, EnvSlot+"=") || strings.HasPrefix(kv, EnvLauncher+"=")
	})
	if err := execFn(path, argv, env); err != nil {
		return fmt.Errorf("update: relaunch %s: %w", path, err)
	}
	return nil
}
