package app

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
)

// `camwarden explain` from a survey file says exactly what classify says
// of the live verdict (one explanation, not two drifting copies), then the
// policy's decision.
func TestExplainFromFileMatchesLiveVerdict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mac    net.HardwareAddr
		facts  []string
		policy string
	}{
		{"flagged relabel", net.HardwareAddr{0x4c, 0xbd, 0x8f, 0, 0, 1},
			[]string{"sadp.seen=reply", "sadp.model=CMIP7442N-28F", "onvif.manufacturer=LTS", "http.realm=LTS"}, "FLAGGED; action: alert"},
		{"review", net.HardwareAddr{0x02, 0, 0, 0, 0, 3},
			[]string{"http.server=App-webs/", "rtsp.server=Dahua Rtsp Server"}, "undetermined (review)"},
		{"clean with a spoofed OUI", net.HardwareAddr{0x58, 0x50, 0xed, 0, 0, 9},
			[]string{"http.title=AXIS", "onvif.manufacturer=AXIS"}, "not flagged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var facts []probes.Fact
			for _, kv := range tc.facts {
				k, v, _ := strings.Cut(kv, "=")
				facts = append(facts, probes.F(k, v))
			}
			p := oneShotPipeline(enforce.DefaultPolicy(), time.Hour, time.Now, nil)
			p.Sink(probes.Observation{MAC: tc.mac, IP: netip.MustParseAddr("198.18.1.50"), Probe: "test", Facts: facts})
			p.Drain(context.Background())
			var file bytes.Buffer
			if err := WriteJSON(&file, p.Devices()); err != nil {
				t.Fatal(err)
			}
			devs, err := ReadJSON(&file)
			if err != nil || len(devs) != 1 {
				t.Fatalf("read back %d devices: %v", len(devs), err)
			}
			var out bytes.Buffer
			if err := Explain(&out, devs[0]); err != nil {
				t.Fatal(err)
			}
			live := classify.Explain(classify.Classify(nil, classify.Input{MAC: tc.mac, Facts: facts}))
			if !strings.Contains(out.String(), live) {
				t.Fatalf("explain from the file differs from the live verdict's:\nfile:\n%s\nlive:\n%s", out.String(), live)
			}
			if !strings.Contains(out.String(), tc.policy) {
				t.Fatalf("explain lacks %q:\n%s", tc.policy, out.String())
			}
		})
	}
}
