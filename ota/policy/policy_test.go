package policy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/sign/signtest"
	"github.com/camwarden/camwarden/probes/classify"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const app = "site12-cam-a"

// fixture is an authority, a state directory and a settable clock.
type fixture struct {
	t      *testing.T
	a      *signtest.Authority
	dir    string
	mu     sync.Mutex
	now    time.Time
	synced bool
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, a: signtest.New(t, t0), dir: t.TempDir(), now: t0.Add(time.Minute), synced: true}
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) isSynced() bool   { f.mu.Lock(); defer f.mu.Unlock(); return f.synced }

// open opens an engine on the fixture's directory (a fresh start).
func (f *fixture) open() *policy.Engine {
	f.t.Helper()
	e, err := policy.Open(policy.Options{Dir: f.dir, Root: f.a.Root.Public(), ApplianceID: app, Site: "site12",
		Now: f.clock, ClockSynced: f.isSynced})
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

// started is open plus the authority's key set installed.
func (f *fixture) started() *policy.Engine {
	f.t.Helper()
	e := f.open()
	if _, err := e.HandleKeySet(f.a.SignedKeySet()); err != nil {
		f.t.Fatal(err)
	}
	return e
}

func doc(v uint64, muts ...func(*policy.Document)) *policy.Document {
	d := &policy.Document{Type: policy.DocumentType, Version: v, IssuedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour),
		Scope: policy.Scope{Appliances: []string{"*"}}, FlaggedMakers: []string{"hikvision", "dahua"},
		Actions: map[string]string{"hikvision": "alert"}}
	for _, m := range muts {
		m(d)
	}
	return d
}

func (f *fixture) signed(d *policy.Document) []byte { return f.a.SignJSON(sign.RolePolicy, d) }

func mustStatus(t *testing.T, r policy.Result, st policy.Status, code string) {
	t.Helper()
	if r.Status != st || r.Code() != code {
		t.Fatalf("got %s %q, want %s %s", r.Status, r.Reason, st, code)
	}
}

func TestApplyReackRejectOlderAndReload(t *testing.T) {
	f := newFixture(t)
	e := f.started()
	if e.Current() != nil {
		t.Fatal("a policy in force before any arrived")
	}
	v1 := f.signed(doc(1))
	r := e.HandlePolicy(policy.SourceFleet, v1)
	mustStatus(t, r, policy.StatusApplied, "")
	if !r.Changed || r.Applied == nil || r.Applied.Doc.Actions["hikvision"] != "alert" || r.Applied.Doc.Version != 1 {
		t.Fatalf("v1 applied as %+v", r.Applied)
	}
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, v1), policy.StatusReacknowledged, "")

	v2 := f.signed(doc(2, func(d *policy.Document) {
		d.Actions["hikvision"] = "isolate"
		d.FlaggedMakers = append(d.FlaggedMakers, "zte")
		d.MinIsolate = "definitive"
	}))
	r = e.HandlePolicy(policy.SourceFleet, v2)
	mustStatus(t, r, policy.StatusApplied, "")
	p := e.Current().Doc
	if p.Actions["hikvision"] != "isolate" || p.MinIsolate != "definitive" || len(p.FlaggedMakers) != 3 {
		t.Fatalf("v2 enforce policy %+v", p)
	}
	r = e.HandlePolicy(policy.SourceFleet, v1)
	mustStatus(t, r, policy.StatusRejected, policy.CodeOldVersion)
	if r.Applied.Doc.Version != 2 {
		t.Fatalf("after an older one: v%d in force", r.Applied.Doc.Version)
	}

	// A restart loads v2 again (re-verified) with the floor at 2.
	e2 := f.open()
	if c := e2.Current(); c == nil || c.Doc.Version != 2 || c.SHA256 != e.Current().SHA256 || e2.Floor() != 2 {
		t.Fatalf("after restart: %+v floor %d", c, e2.Floor())
	}
	mustStatus(t, e2.HandlePolicy(policy.SourceFleet, v2), policy.StatusReacknowledged, "")
	mustStatus(t, e2.HandlePolicy(policy.SourceFleet, v1), policy.StatusRejected, policy.CodeOldVersion)
}

func TestRejections(t *testing.T) {
	f := newFixture(t)
	// An extra policy key that the next key set revokes.
	good := f.a.Keys[sign.RolePolicy]
	doomed := f.a.AddKey(sign.RolePolicy, t0.Add(-time.Hour), t0.Add(time.Hour*24*365))
	f.a.Keys[sign.RolePolicy] = good
	f.a.Revoke(doomed.ID)
	e := f.started()
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(5))), policy.StatusApplied, "")
	inForce := e.Current().SHA256

	stranger, _ := sign.GenerateKey(sign.RolePolicy)
	tampered := func() []byte {
		env, _ := sign.ParseEnvelope(f.signed(doc(6)))
		env.Sig[0] ^= 1
		return env.Marshal()
	}
	withKey := func(k sign.PrivateKey, d *policy.Document) []byte {
		b, _ := json.Marshal(d)
		return sign.Sign(k, b).Marshal()
	}
	rawDoc := func(b []byte) []byte { return f.a.Sign(sign.RolePolicy, b) }
	docJSON, _ := json.Marshal(doc(6))
	big := doc(6, func(d *policy.Document) {
		d.AllowList = []policy.Allow{{Serial: "X", Reason: strings.Repeat("r", 500)}}
		for len(d.AllowList) < 320 {
			d.AllowList = append(d.AllowList, d.AllowList[0])
		}
	})

	for _, tc := range []struct {
		name string
		msg  []byte
		code string
	}{
		{"unsigned", docJSON, policy.CodeUnsigned},
		{"bad signature", tampered(), policy.CodeBadSignature},
		{"unknown key", withKey(stranger, doc(6)), policy.CodeUnknownKey},
		{"revoked key", withKey(doomed, doc(6)), policy.CodeRevokedKey},
		{"wrong role", f.a.SignJSON(sign.RoleCommand, doc(6)), policy.CodeWrongRole},
		{"older version", f.signed(doc(4)), policy.CodeOldVersion},
		{"equal version, other content", f.signed(doc(5, func(d *policy.Document) { d.AutoRestore = true })), policy.CodeVersionConflict},
		{"expired", f.signed(doc(6, func(d *policy.Document) { d.IssuedAt, d.ExpiresAt = t0.Add(-48*time.Hour), t0 })), policy.CodeExpired},
		{"future dated", f.signed(doc(6, func(d *policy.Document) { d.IssuedAt = t0.Add(10 * time.Minute) })), policy.CodeFuture},
		{"out of scope", f.signed(doc(6, func(d *policy.Document) {
			d.Scope = policy.Scope{Appliances: []string{"other"}, Sites: []string{"site9"}}
		})), policy.CodeOutOfScope},
		{"malformed envelope", []byte(`{"payload":`), policy.CodeMalformed},
		{"malformed document", rawDoc([]byte(`{"type":"camwarden.policy/1","version":"six"}`)), policy.CodeMalformed},
		{"bad action", f.signed(doc(6, func(d *policy.Document) { d.Actions["hikvision"] = "explode" })), policy.CodeMalformed},
		{"weak isolate", f.signed(doc(6, func(d *policy.Document) { d.MinIsolate = "weak" })), policy.CodeMalformed},
		{"unknown field", rawDoc(bytes.Replace(docJSON, []byte(`"version"`), []byte(`"colour":"red","version"`), 1)), policy.CodeMalformed},
		{"oversized", f.signed(big), policy.CodeOversized},
		{"bad signatures", f.signed(doc(6, func(d *policy.Document) { d.Signatures = "schema: 2\n" })), policy.CodeMalformed},
		{"empty scope", f.signed(doc(6, func(d *policy.Document) { d.Scope = policy.Scope{} })), policy.CodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.HandlePolicy(policy.SourceFleet, tc.msg)
			mustStatus(t, r, policy.StatusRejected, tc.code)
			if r.Changed || r.Applied == nil || r.Applied.SHA256 != inForce || e.Floor() != 5 {
				t.Fatalf("previous policy not in force after rejection: %+v floor %d", r.Applied, e.Floor())
			}
		})
	}
	// Field-named errors.
	r := e.HandlePolicy(policy.SourceFleet, f.signed(doc(6, func(d *policy.Document) { d.AllowList = []policy.Allow{{MAC: "nope", Reason: "x"}} })))
	if !strings.Contains(r.Reason, "allow_list[0].mac") {
		t.Fatalf("reason does not name the field: %s", r.Reason)
	}
	r = e.HandlePolicy(policy.SourceFleet, rawDoc(bytes.Replace(docJSON, []byte(`"version"`), []byte(`"colour":"red","version"`), 1)))
	if !strings.Contains(r.Reason, `"colour"`) {
		t.Fatalf("reason does not name the unknown field: %s", r.Reason)
	}
}

func TestNoKeySetYet(t *testing.T) {
	f := newFixture(t)
	e := f.open()
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(1))), policy.StatusRejected, policy.CodeNoKeySet)
}

// TestCrashAtEachStep injects a failure at every step of the accept path:
// the running engine keeps the previous policy, and the next start loads a
// complete, verified policy (the old one, or the new one once it was
// renamed into place) with a floor that matches it.
func TestCrashAtEachStep(t *testing.T) {
	for _, step := range []policy.Step{policy.StepVerified, policy.StepWrite, policy.StepRename, policy.StepSwap} {
		t.Run(string(step), func(t *testing.T) {
			f := newFixture(t)
			e := f.started()
			mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(1))), policy.StatusApplied, "")
			old := e.Current()
			e.SetFault(func(s policy.Step) error {
				if s == step {
					return policy.ErrInjected
				}
				return nil
			})
			v2 := f.signed(doc(2, func(d *policy.Document) { d.Actions["hikvision"] = "isolate" }))
			r := e.HandlePolicy(policy.SourceFleet, v2)
			mustStatus(t, r, policy.StatusRejected, policy.CodeStore)
			if e.Current() != old {
				t.Fatal("half-applied: the running policy changed although the store failed")
			}
			entries, _ := os.ReadDir(f.dir)
			for _, de := range entries {
				if strings.HasPrefix(de.Name(), ".") {
					t.Errorf("temp file left behind: %s", de.Name())
				}
			}
			// "Restart".
			e2 := f.open()
			c := e2.Current()
			wantV := uint64(1)
			if step == policy.StepSwap {
				wantV = 2 // renamed into place before the crash: the new one is the truth
			}
			if c == nil || c.Doc.Version != wantV || e2.Floor() != wantV {
				t.Fatalf("after restart: %+v floor %d, want v%d", c, e2.Floor(), wantV)
			}
			if wantV == 2 && c.Doc.Actions["hikvision"] != "isolate" {
				t.Fatalf("v2 loaded inconsistently: %+v", c.Doc)
			}
			// The retained message arrives again after the restart.
			want := policy.StatusApplied
			if wantV == 2 {
				want = policy.StatusReacknowledged
			}
			mustStatus(t, e2.HandlePolicy(policy.SourceFleet, v2), want, "")
		})
	}
}

func TestTornFilesAtStart(t *testing.T) {
	f := newFixture(t)
	e := f.started()
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(3))), policy.StatusApplied, "")
	// A policy file that does not verify (edited on disk) is not loaded,
	// and the persisted floor still holds.
	p := filepath.Join(f.dir, "policy.json")
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, bytes.Replace(b, []byte(`"sig":"`), []byte(`"sig":"AA`), 1)[:len(b)-4], 0o600); err != nil {
		t.Fatal(err)
	}
	e2 := f.open()
	if e2.Current() != nil || e2.Floor() != 3 {
		t.Fatalf("corrupt policy loaded: %+v floor %d", e2.Current(), e2.Floor())
	}
	mustStatus(t, e2.HandlePolicy(policy.SourceFleet, f.signed(doc(2))), policy.StatusRejected, policy.CodeOldVersion)
}

func TestTrustedTime(t *testing.T) {
	f := newFixture(t)
	f.synced = false
	f.now = time.Unix(0, 0) // a board without an RTC before NTP
	e := f.started()
	if got := e.Trust().Now(); !got.Equal(t0) {
		t.Fatalf("trusted time %v, want the key set's issued_at %v", got, t0)
	}
	// Expired relative to the newest signed time, although the clock says 1970.
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(1, func(d *policy.Document) {
		d.IssuedAt, d.ExpiresAt = t0.Add(-72*time.Hour), t0.Add(-time.Hour)
	}))), policy.StatusRejected, policy.CodeExpired)
	// Without a synchronised clock a later issued_at cannot be judged
	// "future": it is accepted and moves trusted time forward.
	later := t0.Add(48 * time.Hour)
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(1, func(d *policy.Document) { d.IssuedAt = later }))), policy.StatusApplied, "")
	if got := e.Trust().Now(); !got.Equal(later) {
		t.Fatalf("trusted time %v, want %v", got, later)
	}
	// Persisted across a restart.
	if got := f.open().Trust().Now(); !got.Equal(later) {
		t.Fatalf("after restart trusted time %v, want %v", got, later)
	}
	// Once synchronised, the clock counts when it is later.
	f.synced, f.now = true, later.Add(time.Hour)
	if got := e.Trust().Now(); !got.Equal(f.now) {
		t.Fatalf("synced trusted time %v", got)
	}
}

func TestRotationAndRevocation(t *testing.T) {
	f := newFixture(t)
	e := f.started()
	old := f.a.Keys[sign.RolePolicy]
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(1))), policy.StatusApplied, "")

	// Rotation with overlap: a new key, the old one still valid. Documents
	// from either verify; the policy in force stays.
	f.a.AddKey(sign.RolePolicy, t0, t0.Add(365*24*time.Hour))
	f.a.Bump(t0.Add(time.Minute))
	if _, err := e.HandleKeySet(f.a.SignedKeySet()); err != nil {
		t.Fatal(err)
	}
	if e.Current() == nil {
		t.Fatal("rotation dropped the policy in force")
	}
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(2))), policy.StatusApplied, "")

	// Revoking a key that signed nothing in force changes nothing else.
	f.a.Revoke(old.ID)
	f.a.Bump(t0.Add(2 * time.Minute))
	if _, err := e.HandleKeySet(f.a.SignedKeySet()); err != nil {
		t.Fatal(err)
	}
	if c := e.Current(); c == nil || c.Doc.Version != 2 {
		t.Fatalf("revocation of an unused key dropped the policy: %+v", c)
	}
	b, _ := json.Marshal(doc(3))
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, sign.Sign(old, b).Marshal()), policy.StatusRejected, policy.CodeRevokedKey)

	// Revoking the key of the policy in force withdraws that policy.
	cur := f.a.Keys[sign.RolePolicy]
	f.a.AddKey(sign.RolePolicy, t0, t0.Add(365*24*time.Hour))
	f.a.Revoke(cur.ID)
	f.a.Bump(t0.Add(3 * time.Minute))
	if _, err := e.HandleKeySet(f.a.SignedKeySet()); err != nil {
		t.Fatal(err)
	}
	if e.Current() != nil {
		t.Fatal("policy signed by a revoked key still in force")
	}
	if f.open().Current() != nil {
		t.Fatal("restart loaded the policy of a revoked key")
	}
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(3))), policy.StatusApplied, "")

	// An older key set (replayed) is refused.
	if _, err := e.HandleKeySet(f.a.SignedKeySet()); !errors.Is(err, sign.ErrOldKeySet) {
		t.Fatalf("replayed key set: %v", err)
	}
	// A key set not signed by the root is refused.
	f.a.Bump(t0.Add(4 * time.Minute))
	if _, err := e.HandleKeySet(f.a.Sign(sign.RolePolicy, f.a.KeySet.Marshal())); !errors.Is(err, sign.ErrUnknownKey) {
		t.Fatalf("key set signed by a policy key: %v", err)
	}
}

func TestMostSpecificWinsAtEqualVersion(t *testing.T) {
	f := newFixture(t)
	e := f.started()
	fleet := f.signed(doc(4))
	mine := f.signed(doc(4, func(d *policy.Document) { d.Scope.Appliances = []string{app}; d.Actions["hikvision"] = "isolate" }))
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, fleet), policy.StatusApplied, "")
	mustStatus(t, e.HandlePolicy(policy.SourceAppliance, mine), policy.StatusApplied, "")
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, fleet), policy.StatusRejected, policy.CodeOldVersion)
	if c := e.Current(); c.Source != policy.SourceAppliance || c.Doc.Actions["hikvision"] != "isolate" {
		t.Fatalf("in force: %+v", c)
	}
	// Arrival in the other order ends the same way.
	f2 := newFixture(t)
	f2.a = f.a
	e2 := f2.started()
	mustStatus(t, e2.HandlePolicy(policy.SourceAppliance, mine), policy.StatusApplied, "")
	mustStatus(t, e2.HandlePolicy(policy.SourceFleet, fleet), policy.StatusRejected, policy.CodeOldVersion)
	if e2.Current().SHA256 != e.Current().SHA256 {
		t.Fatal("arrival order changed the outcome")
	}
	// A higher fleet version beats the appliance's.
	mustStatus(t, e2.HandlePolicy(policy.SourceFleet, f.signed(doc(5))), policy.StatusApplied, "")
	// Site scope.
	mustStatus(t, e2.HandlePolicy(policy.SourceFleet, f.signed(doc(6, func(d *policy.Document) { d.Scope = policy.Scope{Sites: []string{"site12"}} }))), policy.StatusApplied, "")
}

func TestSignaturesAndProbes(t *testing.T) {
	extra := `schema: 1
signatures:
- id: acme.http-server
  when: [{fact: http.server, prefix: "AcmeCam/"}]
  maker: acme
  strength: strong
  reason: Acme web server banner
- id: hikvision.sadp
  disabled: true
`
	d := doc(1, func(d *policy.Document) {
		d.Signatures = extra
		d.Probes = policy.Probes{PassiveOnly: true, Disabled: []string{"onvif"}, SweepInterval: policy.Duration(time.Hour)}
		d.HoldTime = policy.Duration(20 * time.Minute)
		d.AutoRestore = true
		d.AllowList = []policy.Allow{{MAC: "BC:AD:28:00:00:01", Reason: "lobby"}}
	})
	f := newFixture(t)
	e := f.started()
	r := e.HandlePolicy(policy.SourceFleet, f.signed(d))
	mustStatus(t, r, policy.StatusApplied, "")
	a := r.Applied
	base := classify.Default()
	if a.Signatures.Len() != base.Len() { // one added, one disabled
		t.Fatalf("merged set has %d rules, base %d", a.Signatures.Len(), base.Len())
	}
	found := false
	for _, rule := range a.Signatures.Rules() {
		if rule.ID == "acme.http-server" {
			found = true
		}
		if rule.ID == "hikvision.sadp" {
			t.Fatal("disabled rule still in the set")
		}
	}
	if !found {
		t.Fatal("extra rule missing")
	}
	p := a.Doc
	if time.Duration(p.HoldTime) != 20*time.Minute || !p.AutoRestore || len(p.AllowList) != 1 || !strings.EqualFold(p.AllowList[0].MAC, "bc:ad:28:00:00:01") {
		t.Fatalf("enforce policy %+v", p)
	}
	if !a.Doc.Probes.PassiveOnly || a.Doc.Probes.Disabled[0] != "onvif" || time.Duration(a.Doc.Probes.SweepInterval) != time.Hour {
		t.Fatalf("probes %+v", a.Doc.Probes)
	}
}

// TestRootResetsVersionFloor: a policy signed with a runaway version blocks
// every later one until the root resets the floor. The reset drops it, keeps
// it out after restarts and replays (its key is still trusted), and lets the
// next honest version through.
func TestRootResetsVersionFloor(t *testing.T) {
	f := newFixture(t)
	e := f.started()
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(7))), policy.StatusApplied, "")
	runaway := f.signed(doc(1<<62, func(d *policy.Document) { d.IssuedAt = t0.Add(30 * time.Second) }))
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, runaway), policy.StatusApplied, "")
	next := func(v uint64, at time.Time) []byte {
		return f.signed(doc(v, func(d *policy.Document) { d.IssuedAt = at }))
	}
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, next(8, t0.Add(40*time.Second))), policy.StatusRejected, policy.CodeOldVersion)

	// The root's reset: floor 7, everything above it signed until now void.
	resetAt := t0.Add(50 * time.Second)
	f.a.KeySet.PolicyReset = &sign.PolicyReset{Floor: 7, At: resetAt}
	f.a.Bump(resetAt)
	if _, err := e.HandleKeySet(f.a.SignedKeySet()); err != nil {
		t.Fatal(err)
	}
	if c := e.Current(); c != nil {
		t.Fatalf("runaway policy v%d still in force after the reset", c.Doc.Version)
	}
	if e.Floor() != 7 {
		t.Fatalf("floor %d after the reset, want 7", e.Floor())
	}
	// Replays of the runaway policy, and anything above 7 signed before
	// the reset, are refused although their key is valid.
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, runaway), policy.StatusRejected, policy.CodeVoided)
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, next(8, t0.Add(40*time.Second))), policy.StatusRejected, policy.CodeVoided)
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, f.signed(doc(7))), policy.StatusRejected, policy.CodeOldVersion)

	// A restart before a new policy arrives must not bring the runaway
	// back or raise the floor from the stored copy.
	if e2 := f.open(); e2.Current() != nil || e2.Floor() != 7 {
		t.Fatalf("restart after reset: current %v, floor %d", e2.Current(), e2.Floor())
	}

	// The next honest policy applies and survives a restart.
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, next(8, resetAt.Add(time.Second))), policy.StatusApplied, "")
	if e2 := f.open(); e2.Current() == nil || e2.Current().Doc.Version != 8 || e2.Floor() != 8 {
		t.Fatalf("restart after v8: %+v floor %d", e2.Current(), e2.Floor())
	}

	// Later key sets carry the reset along; that changes nothing.
	f.a.Bump(resetAt.Add(time.Minute))
	if _, err := e.HandleKeySet(f.a.SignedKeySet()); err != nil {
		t.Fatal(err)
	}
	if c := e.Current(); c == nil || c.Doc.Version != 8 || e.Floor() != 8 {
		t.Fatalf("a key set carrying the old reset changed the policy: %+v floor %d", c, e.Floor())
	}
}

// TestResetSurvivesLostState: state.json gone after a reset (a corrupted
// flash block); the stored key set brings the reset back on start.
func TestResetSurvivesLostState(t *testing.T) {
	f := newFixture(t)
	e := f.started()
	runaway := f.signed(doc(1 << 40))
	mustStatus(t, e.HandlePolicy(policy.SourceFleet, runaway), policy.StatusApplied, "")
	f.a.KeySet.PolicyReset = &sign.PolicyReset{Floor: 3, At: t0.Add(time.Minute)}
	f.a.Bump(t0.Add(time.Minute))
	if _, err := e.HandleKeySet(f.a.SignedKeySet()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.dir, "state.json")); err != nil {
		t.Fatal(err)
	}
	e2 := f.open()
	if e2.Current() != nil || e2.Floor() != 3 {
		t.Fatalf("after losing state.json: current %v, floor %d, want none and 3", e2.Current(), e2.Floor())
	}
	mustStatus(t, e2.HandlePolicy(policy.SourceFleet, runaway), policy.StatusRejected, policy.CodeVoided)
}
