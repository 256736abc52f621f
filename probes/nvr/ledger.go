package nvr

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Ledger remembers, per device, which credentials were tried this sweep and
// whether the device is locked out, so that no sweep can cost an installer
// a locked account. The daemon holds one for its whole run and calls
// BeginSweep at the start of each sweep; a Prober without one uses a
// private ledger per Probe call (one attempt per credential per probe).
//
// Devices are keyed by the caller's choice of string (the MAC when known,
// else the IP). The ledger holds at most its capacity of devices; when
// full it forgets the device touched longest ago that is not locked out,
// so lock-outs are kept as long as anything can be. Credentials are kept
// as keyed hashes (HMAC-SHA-256 under a per-ledger random key), never as
// passwords. Safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	max     int
	sweep   uint64
	key     [32]byte
	tick    uint64
	devices map[string]*ledgerDevice
}

// maxCredsPerDevice bounds the per-device table: configuration allows no
// more credentials than this anyway.
const maxCredsPerDevice = 32

type credState struct {
	sweep    uint64 // the sweep it was last tried in
	accepted bool   // the device took it in that sweep
}

type ledgerDevice struct {
	creds       map[[32]byte]credState
	lockedUntil time.Time
	touched     uint64
}

// NewLedger returns a ledger for at most maxDevices devices (4096 when
// not positive).
func NewLedger(maxDevices int) *Ledger {
	if maxDevices <= 0 {
		maxDevices = 4096
	}
	l := &Ledger{max: maxDevices, sweep: 1, devices: map[string]*ledgerDevice{}}
	_, _ = rand.Read(l.key[:])
	return l
}

// BeginSweep starts a new sweep: every credential a device refused may be
// tried once more. Lock-outs stay until their time.
func (l *Ledger) BeginSweep() {
	l.mu.Lock()
	l.sweep++
	l.mu.Unlock()
}

func (l *Ledger) credKey(c Credential) [32]byte {
	m := hmac.New(sha256.New, l.key[:])
	m.Write([]byte(c.User))
	m.Write([]byte{0})
	m.Write([]byte(c.Password))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

// device returns the entry for dev, making room when needed. l.mu is held.
func (l *Ledger) device(dev string, now time.Time) *ledgerDevice {
	l.tick++
	d := l.devices[dev]
	if d == nil {
		if len(l.devices) >= l.max {
			l.evict(now)
		}
		d = &ledgerDevice{creds: map[[32]byte]credState{}}
		l.devices[dev] = d
	}
	d.touched = l.tick
	return d
}

func (l *Ledger) evict(now time.Time) {
	victim, lockedVictim := "", ""
	var oldest, oldestLocked uint64 = ^uint64(0), ^uint64(0)
	for k, d := range l.devices {
		if now.Before(d.lockedUntil) {
			if d.touched < oldestLocked {
				lockedVictim, oldestLocked = k, d.touched
			}
			continue
		}
		if d.touched < oldest {
			victim, oldest = k, d.touched
		}
	}
	if victim == "" {
		victim = lockedVictim
	}
	delete(l.devices, victim)
}

// LockedUntil reports whether dev is locked out at now, and until when.
func (l *Ledger) LockedUntil(dev string, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.devices[dev]
	if d == nil || !now.Before(d.lockedUntil) {
		return time.Time{}, false
	}
	return d.lockedUntil, true
}

// Lock records that dev is locked out until then (at most MaxLockout from
// now).
func (l *Ledger) Lock(dev string, until, now time.Time) {
	if until.After(now.Add(MaxLockout)) {
		until = now.Add(MaxLockout)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.device(dev, now)
	if until.After(d.lockedUntil) {
		d.lockedUntil = until
	}
}

// Try asks whether c may be sent to dev now, and if so records the attempt
// (it counts even when the caller's request then fails on the network).
// A credential the device accepted this sweep may be used again freely.
func (l *Ledger) Try(dev string, c Credential, now time.Time) bool {
	k := l.credKey(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.device(dev, now)
	if now.Before(d.lockedUntil) {
		return false
	}
	st, ok := d.creds[k]
	if ok && st.sweep == l.sweep {
		return st.accepted
	}
	if !ok && len(d.creds) >= maxCredsPerDevice {
		return false
	}
	d.creds[k] = credState{sweep: l.sweep}
	return true
}

// Accepted records that dev took c, so the rest of the sweep may reuse it.
func (l *Ledger) Accepted(dev string, c Credential, now time.Time) {
	k := l.credKey(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.device(dev, now)
	d.creds[k] = credState{sweep: l.sweep, accepted: true}
}

// Refused records that dev refused c: it is not sent again this sweep,
// even if it had been accepted earlier in it (a password changed under us).
func (l *Ledger) Refused(dev string, c Credential, now time.Time) {
	k := l.credKey(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.device(dev, now)
	d.creds[k] = credState{sweep: l.sweep}
}

// Len is how many devices the ledger holds.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.devices)
}
