package nvr

import (
	"fmt"
	"log/slog"
	"testing"
	"time"
)

var discard = slog.New(slog.DiscardHandler)

func TestLedgerOncePerSweep(t *testing.T) {
	l := NewLedger(8)
	now := time.Unix(1e9, 0)
	a, b := Credential{User: "admin", Password: "a"}, Credential{User: "admin", Password: "b"}
	if !l.Try("nvr1", a, now) || l.Try("nvr1", a, now) {
		t.Fatal("a credential may be tried once per sweep")
	}
	if !l.Try("nvr2", a, now) {
		t.Fatal("the ledger is per device")
	}
	if !l.Try("nvr1", b, now) {
		t.Fatal("the ledger is per credential")
	}
	l.Accepted("nvr1", b, now)
	for range 2 {
		if !l.Try("nvr1", b, now) {
			t.Fatal("an accepted credential stays usable")
		}
	}
	l.Refused("nvr1", b, now)
	if l.Try("nvr1", b, now) {
		t.Fatal("a credential refused after acceptance is not sent again")
	}
	l.BeginSweep()
	if !l.Try("nvr1", a, now) || l.Try("nvr1", a, now) {
		t.Fatal("a new sweep allows one more try")
	}
}

func TestLedgerLock(t *testing.T) {
	l := NewLedger(8)
	now := time.Unix(1e9, 0)
	a := Credential{User: "admin", Password: "a"}
	l.Lock("nvr1", now.Add(time.Hour), now)
	l.BeginSweep()
	if l.Try("nvr1", a, now.Add(59*time.Minute)) {
		t.Fatal("tried while locked")
	}
	if !l.Try("nvr1", a, now.Add(61*time.Minute)) {
		t.Fatal("not tried after the unlock time")
	}
	l.Lock("nvr2", now.Add(1000*time.Hour), now)
	if until, ok := l.LockedUntil("nvr2", now); !ok || until.Sub(now) != MaxLockout {
		t.Fatalf("lock not capped: %v %v", until, ok)
	}
}

// The ledger stays bounded and forgets unlocked devices before locked ones.
func TestLedgerBounded(t *testing.T) {
	l := NewLedger(4)
	now := time.Unix(1e9, 0)
	a := Credential{User: "admin", Password: "a"}
	l.Lock("locked", now.Add(time.Hour), now)
	for i := range 100 {
		l.Try(fmt.Sprint("dev", i), a, now)
	}
	if l.Len() != 4 {
		t.Fatalf("ledger holds %d devices, cap 4", l.Len())
	}
	if _, ok := l.LockedUntil("locked", now); !ok {
		t.Fatal("a locked device was forgotten while unlocked ones could go")
	}
	for i := range maxCredsPerDevice + 10 {
		l.Try("many", Credential{User: "u", Password: fmt.Sprint(i)}, now)
	}
	if l.Try("many", Credential{User: "u", Password: "new"}, now) {
		t.Fatal("per-device credential table is unbounded")
	}
}
