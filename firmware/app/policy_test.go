package app_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/firmware/app"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
	"github.com/camwarden/camwarden/ota/command"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/sign/signtest"
	"github.com/camwarden/camwarden/probes/classify"
)

// PolicyACL is mosquittotest's ACL plus read access to the fleet topics.
const PolicyACL = "pattern read camwarden/v1/fleet/#\n" + mosquittotest.DefaultACL

type applied struct {
	p       enforce.Policy
	sigs    *classify.Set
	version uint64
}

// rig is a broker, an admin client and one appliance with the policy and
// command glue subscribed through the real MQTT client.
type rig struct {
	t       *testing.T
	b       *mosquittotest.Broker
	admin   paho.Client
	a       *signtest.Authority
	mu      sync.Mutex
	applies []applied
	acks    []string
	msgs    map[string][]byte // last message per topic seen by admin
}

func (r *rig) lastApplied() (applied, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.applies) == 0 {
		return applied{}, 0
	}
	return r.applies[len(r.applies)-1], len(r.applies)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newRig(t *testing.T) *rig {
	b := mosquittotest.Start(t, mosquittotest.Config{Users: map[string]string{"app1": "pw1"}, ACL: PolicyACL})
	r := &rig{t: t, b: b, a: signtest.New(t, time.Now().Add(-time.Minute)), msgs: map[string][]byte{}}
	o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID("cwtpol-admin").SetUsername(mosquittotest.AdminUser).
		SetPassword(b.Users[mosquittotest.AdminUser]).SetProtocolVersion(4)
	r.admin = paho.NewClient(o)
	if tok := r.admin.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("admin connect: %v", tok.Error())
	}
	t.Cleanup(func() { r.admin.Disconnect(100) })
	tok := r.admin.Subscribe("camwarden/v1/app1/#", 1, func(_ paho.Client, m paho.Message) {
		r.mu.Lock()
		r.msgs[m.Topic()] = append([]byte(nil), m.Payload()...)
		r.mu.Unlock()
	})
	tok.Wait()
	return r
}

// appliance starts the appliance side on dir (a restart when dir is reused).
func (r *rig) appliance(dir string) (*mqtt.Client, *app.PolicyManager) {
	t := r.t
	c, err := mqtt.Dial(mqtt.Options{Broker: r.b.URL(), ApplianceID: "app1", Username: "app1", Password: "pw1",
		OutboxPath: filepath.Join(t.TempDir(), "outbox.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pm, err := app.NewPolicyManager(app.PolicyOptions{Dir: dir, RootKey: r.a.RootPublic(), ApplianceID: "app1", Publisher: c,
		OnApply: func(s app.Settings) {
			r.mu.Lock()
			r.applies = append(r.applies, applied{s.Enforce, s.Signatures, s.Version})
			r.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := app.NewCommandHandler(app.CommandOptions{ApplianceID: "app1", Engine: pm.Engine(), Publisher: c,
		Ack: func(src string) error { r.mu.Lock(); r.acks = append(r.acks, src); r.mu.Unlock(); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pm.Subscribe(c); err != nil {
		t.Fatal(err)
	}
	if err := ch.Subscribe(c); err != nil {
		t.Fatal(err)
	}
	return c, pm
}

func (r *rig) publish(topic string, payload []byte, retained bool) {
	r.t.Helper()
	tok := r.admin.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		r.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// report waits for a policy/reported whose received version and status
// match, and returns it.
func (r *rig) report(status policy.Status, received uint64) app.ReportedPayload {
	r.t.Helper()
	var rep app.ReportedPayload
	eventually(r.t, "policy/reported "+string(status), func() bool {
		r.mu.Lock()
		b := r.msgs["camwarden/v1/app1/policy/reported"]
		r.mu.Unlock()
		rep = app.ReportedPayload{}
		return json.Unmarshal(b, &rep) == nil && rep.Status == status && rep.ReceivedVersion == received
	})
	if rep.Schema != policy.SchemaReported || rep.Appliance != "app1" || rep.Seq == 0 || rep.MsgID == "" {
		r.t.Fatalf("report header %+v", rep.Header)
	}
	return rep
}

func pdoc(v uint64, muts ...func(*policy.Document)) *policy.Document {
	now := time.Now().UTC().Add(-time.Second)
	d := &policy.Document{Type: policy.DocumentType, Version: v, IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		Scope: policy.Scope{Appliances: []string{"*"}}, FlaggedMakers: []string{"hikvision"}}
	for _, m := range muts {
		m(d)
	}
	return d
}

func TestPolicyOverMosquitto(t *testing.T) {
	r := newRig(t)
	dir := t.TempDir()
	// The policy arrives before the key set that can verify it: it is
	// applied once the key set comes.
	r.publish(mqtt.FleetTopic+"policy", r.a.SignJSON(sign.RolePolicy, pdoc(1)), true)
	r.appliance(dir)
	r.report(policy.StatusRejected, 0) // no key set yet
	r.publish(mqtt.FleetTopic+"keys", r.a.SignedKeySet(), true)
	rep := r.report(policy.StatusApplied, 1)
	if rep.AppliedVersion != 1 || len(rep.SHA256) != 64 || rep.KeySetVersion != 1 {
		t.Fatalf("report %+v", rep)
	}
	got, n := r.lastApplied()
	if n != 1 || got.version != 1 || got.p.Actions["hikvision"] != "" {
		t.Fatalf("OnApply %+v (%d calls)", got, n)
	}

	// A new policy for this appliance changes flagging and actions without
	// a restart.
	r.publish("camwarden/v1/app1/policy", r.a.SignJSON(sign.RolePolicy, pdoc(2, func(d *policy.Document) {
		d.Scope.Appliances = []string{"app1"}
		d.FlaggedMakers = []string{"hikvision", "dahua"}
		d.Actions = map[string]string{"dahua": "isolate"}
	})), true)
	r.report(policy.StatusApplied, 2)
	got, n = r.lastApplied()
	if n != 2 || got.version != 2 || got.p.Actions["dahua"] != enforce.ActionIsolate || len(got.p.FlaggedMakers) != 2 {
		t.Fatalf("OnApply after v2: %+v", got)
	}

	// Rejections are reported with their reason; the previous policy stays.
	bad, _ := sign.ParseEnvelope(r.a.SignJSON(sign.RolePolicy, pdoc(3)))
	bad.Sig[5] ^= 0x40
	for _, tc := range []struct {
		msg      []byte
		received uint64
		code     string
	}{
		{bad.Marshal(), 0, policy.CodeBadSignature},
		{r.a.SignJSON(sign.RolePolicy, pdoc(1)), 1, policy.CodeOldVersion},
		{r.a.SignJSON(sign.RoleCommand, pdoc(3)), 0, policy.CodeWrongRole},
		{r.a.SignJSON(sign.RolePolicy, pdoc(3, func(d *policy.Document) { d.Scope.Appliances = []string{"app9"} })), 3, policy.CodeOutOfScope},
		{[]byte(`{"version":9}`), 0, policy.CodeMalformed},
	} {
		r.publish("camwarden/v1/app1/policy", tc.msg, true)
		rep := r.report(policy.StatusRejected, tc.received)
		if !strings.HasPrefix(rep.Reason, tc.code+":") || rep.AppliedVersion != 2 {
			t.Fatalf("report %+v, want %s with v2 in force", rep.Report, tc.code)
		}
		// Force the next wait to see a new report.
		r.mu.Lock()
		delete(r.msgs, "camwarden/v1/app1/policy/reported")
		r.mu.Unlock()
	}
	if _, n := r.lastApplied(); n != 2 {
		t.Fatalf("a rejected policy reached OnApply (%d calls)", n)
	}
	// An empty retained message (clearing the topic) is ignored.
	r.publish("camwarden/v1/app1/policy", nil, true)
	time.Sleep(200 * time.Millisecond)
	r.mu.Lock()
	_, reported := r.msgs["camwarden/v1/app1/policy/reported"]
	r.mu.Unlock()
	if reported {
		t.Fatal("an empty message was reported on")
	}

	// Signed commands: done once, refused when replayed.
	nonce := "0123456789abcdef0123456789abcdef"
	ack := r.a.SignJSON(sign.RoleCommand, command.Command{Type: command.Type, Name: "ack", Appliance: "app1", Nonce: nonce,
		IssuedAt: time.Now().UTC(), ExpiresAt: time.Now().UTC().Add(time.Minute), Args: map[string]string{"source": "alice"}})
	res := func() command.Result {
		var out app.CommandResultPayload
		eventually(t, "cmd/ack/res", func() bool {
			r.mu.Lock()
			b := r.msgs["camwarden/v1/app1/cmd/ack/res"]
			delete(r.msgs, "camwarden/v1/app1/cmd/ack/res")
			r.mu.Unlock()
			return b != nil && json.Unmarshal(b, &out) == nil
		})
		return out.Result
	}
	r.publish("camwarden/v1/app1/cmd/ack", ack, false)
	if got := res(); !got.OK || got.Nonce != nonce {
		t.Fatalf("ack result %+v", got)
	}
	r.publish("camwarden/v1/app1/cmd/ack", ack, false)
	if got := res(); got.OK || got.Error != command.CodeReplay {
		t.Fatalf("replayed ack result %+v", got)
	}
	r.mu.Lock()
	acks := append([]string(nil), r.acks...)
	r.mu.Unlock()
	if len(acks) != 1 || acks[0] != "alice" {
		t.Fatalf("Ack callbacks %v", acks)
	}

	// Revoking the policy key through a new key set withdraws v2 (the
	// local fallback is applied); a policy from the rotated-in key applies.
	old := r.a.Keys[sign.RolePolicy]
	r.a.AddKey(sign.RolePolicy, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	r.a.Revoke(old.ID)
	r.a.Bump(time.Now().UTC())
	r.publish(mqtt.FleetTopic+"keys", r.a.SignedKeySet(), true)
	eventually(t, "fallback after revocation", func() bool { got, _ := r.lastApplied(); return got.version == 0 })
	r.publish("camwarden/v1/app1/policy", r.a.SignJSON(sign.RolePolicy, pdoc(3)), true)
	r.report(policy.StatusApplied, 3)
	if got, _ := r.lastApplied(); got.version != 3 {
		t.Fatalf("after rotation: v%d", got.version)
	}
}

// TestPolicyRestartOverMosquitto: a restarted appliance loads its stored
// policy before the broker says anything, and the retained messages that
// follow are re-acknowledged, not re-applied.
func TestPolicyRestartOverMosquitto(t *testing.T) {
	r := newRig(t)
	dir := t.TempDir()
	r.publish(mqtt.FleetTopic+"keys", r.a.SignedKeySet(), true)
	r.publish(mqtt.FleetTopic+"policy", r.a.SignJSON(sign.RolePolicy, pdoc(7)), true)
	c, _ := r.appliance(dir)
	r.report(policy.StatusApplied, 7)
	c.Close()

	r.mu.Lock()
	r.applies = nil
	r.msgs = map[string][]byte{}
	r.mu.Unlock()
	pm, err := app.NewPolicyManager(app.PolicyOptions{Dir: dir, RootKey: r.a.RootPublic(), ApplianceID: "app1"})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := pm.Current(); !ok || s.Version != 7 {
		t.Fatalf("stored policy not loaded: v%d %v", s.Version, ok)
	}
	r.appliance(dir)
	r.report(policy.StatusReacknowledged, 7)
	if _, n := r.lastApplied(); n != 0 {
		t.Fatalf("re-delivered policy re-applied (%d OnApply calls)", n)
	}
}
