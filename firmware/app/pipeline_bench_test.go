package app

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
	"github.com/camwarden/camwarden/probes"
)

// BenchmarkPipelineBurst: 500 devices appear at once (a PoE switch powering
// up) and the pipeline reports each to a real mosquitto through the mqtt
// client with its fsynced outbox. It prints ms per burst, i.e. how long the
// 500th device waits behind the others:
//   - reporter=queued: the pipeline as it runs (report.Queuer: no PUBACK
//     wait per device, one wait for the burst's event fsyncs);
//   - reporter=blocking: the same client behind an interface that hides
//     the Queuer, so each device waits its PUBACK and each event its fsync.
func BenchmarkPipelineBurst(b *testing.B) {
	broker := mosquittotest.Start(b, mosquittotest.Config{Users: map[string]string{"bench": "pw"}})
	const n = 500
	obs := make([]probes.Observation, n)
	for i := range obs {
		obs[i] = probes.Observation{MAC: net.HardwareAddr{0x02, 0, 0, 0, byte(i >> 8), byte(i)},
			IP: netip.AddrFrom4([4]byte{198, 18, 1 + byte(i/250), byte(2 + i%250)}), Probe: "arp",
			Facts: []probes.Fact{probes.F("arp.op", "gratuitous")}}
	}
	for _, mode := range []string{"queued", "blocking"} {
		b.Run("reporter="+mode, func(b *testing.B) {
			c, err := mqtt.Dial(mqtt.Options{Broker: broker.URL(), ApplianceID: "bench", Username: "bench", Password: "pw",
				OutboxPath: b.TempDir() + "/outbox.db"})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			deadline := time.Now().Add(10 * time.Second)
			for !c.Connected() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			var rep report.Reporter = c
			if mode == "blocking" {
				rep = struct{ report.Reporter }{c}
			}
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				inv, err := inventory.Open(inventory.Options{})
				if err != nil {
					b.Fatal(err)
				}
				p := NewPipeline(&Pipeline{Inv: inv, Classify: factClassifier, Enforcer: &recEnforcer{policy: enforce.DefaultPolicy()},
					Reporter: rep, GoneAfter: time.Minute})
				for _, o := range obs {
					o.Time = time.Now()
					p.Sink(o)
				}
				b.StartTimer()
				p.Drain(ctx)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/burst")
			b.ReportMetric(0, "ns/op")
		})
	}
}
