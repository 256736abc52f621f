package app

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camwarden/camwarden/board/boardtest"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report/reporttest"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/sign"
	"github.com/camwarden/camwarden/ota/sign/signtest"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
)

// A signature pushed in a signed policy changes a live device's verdict:
// a banner the built-in signatures do not know becomes Hikvision (an OEM
// learned in the field), the device is re-decided and re-reported flagged,
// all without a restart.
func TestPolicySignatureChangesVerdictLive(t *testing.T) {
	ctx := context.Background()
	a := signtest.New(t, time.Now().Add(-time.Minute))
	inv, _ := inventory.Open(inventory.Options{})
	rec := &reporttest.Recorder{}
	enf, err := enforce.New(enforce.Options{Board: boardtest.New()})
	if err != nil {
		t.Fatal(err)
	}
	var sigs atomic.Pointer[classify.Set]
	sigs.Store(classify.Default())
	pipe := NewPipeline(&Pipeline{Inv: inv, Enforcer: enf, Reporter: rec, GoneAfter: time.Hour,
		Classify: func(mac net.HardwareAddr, f []probes.Fact) classify.Verdict {
			return classify.Classify(sigs.Load(), classify.Input{MAC: mac, Facts: f})
		}})
	pm, err := NewPolicyManager(PolicyOptions{Dir: t.TempDir(), RootKey: a.RootPublic(), ApplianceID: "app1",
		OnApply: policyApplier(ctx, enf, &sigs, pipe, nil)})
	if err != nil {
		t.Fatal(err)
	}
	pm.Handle("camwarden/v1/fleet/keys", a.SignedKeySet())

	cam := net.HardwareAddr{0x02, 0xac, 0x3e, 0, 0, 7} // locally administered: no OUI evidence
	pipe.Sink(probes.Observation{MAC: cam, IP: netip.MustParseAddr("198.18.1.77"), Probe: "http",
		Facts: []probes.Fact{probes.F("http.server", "AcmeVision-Webs/3.2")}})
	pipe.Drain(ctx)
	if d := rec.Devices[len(rec.Devices)-1]; d.Maker != "" || d.Flagged {
		t.Fatalf("before the policy: %+v", d)
	}

	now := time.Now().UTC().Add(-time.Second)
	doc := policy.Document{Type: policy.DocumentType, Version: 1, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
		Scope: policy.Scope{Appliances: []string{"*"}}, FlaggedMakers: []string{"hikvision"},
		Signatures: `schema: 1
signatures:
- id: hikvision.acmevision-oem
  when: [{fact: http.server, prefix: "AcmeVision-Webs/"}]
  maker: hikvision
  brand: AcmeVision
  strength: strong
  reason: AcmeVision relabels Hikvision firmware (its web server is App-webs renamed)
`}
	pm.Handle("camwarden/v1/app1/policy", a.SignJSON(sign.RolePolicy, doc))
	d := rec.Devices[len(rec.Devices)-1]
	if d.Maker != "hikvision" || d.Brand != "AcmeVision" || !d.Flagged || d.Confidence != "strong" {
		t.Fatalf("after the policy: %+v", d)
	}
	if v := enf.Status().Policy; v != 1 {
		t.Fatalf("enforcer runs policy %d, want 1", v)
	}
}
