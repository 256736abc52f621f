package mqtt

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
)

// BenchmarkOutboxAppend measures durable (fsynced) events per second
// through Client.Event/Enqueue with the link down (nothing is sent, so only
// the outbox is measured):
//   - writers=1/wait-each: one goroutine waiting for every event's fsync
//     (the floor: one commit per event);
//   - writers=1/pipelined: one goroutine emitting back-to-back with Enqueue,
//     up to 256 events in flight, each counted only once its Wait said it is
//     durable;
//   - writers=32: 32 goroutines each waiting per event, sharing commits.
func BenchmarkOutboxAppend(b *testing.B) {
	open := func(b *testing.B) *Client {
		c, err := Dial(Options{Broker: "tcp://127.0.0.1:1", ApplianceID: "bench", OutboxPath: b.TempDir() + "/o.db",
			OutboxMaxEvents: 10_000_000, ReconnectMin: time.Minute, ReconnectMax: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	ev := func() report.Event {
		return report.Event{Type: "device_new", MAC: "aa:bb:cc:00:00:01", Time: time.Now(),
			Data: map[string]any{"maker": "hikvision", "ip": "198.18.1.10"}}
	}
	ctx := context.Background()
	report := func(b *testing.B) { b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s") }
	b.Run("writers=1/wait-each", func(b *testing.B) {
		c := open(b)
		for b.Loop() {
			if err := c.Event(ctx, ev()); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("writers=1/pipelined", func(b *testing.B) {
		c := open(b)
		var inflight []*Pending
		for b.Loop() {
			inflight = append(inflight, c.Enqueue(ev()))
			if len(inflight) == 256 {
				if err := inflight[0].Wait(ctx); err != nil {
					b.Fatal(err)
				}
				inflight = inflight[1:]
			}
		}
		for _, p := range inflight {
			if err := p.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("writers=32", func(b *testing.B) {
		c := open(b)
		b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := c.Event(ctx, ev()); err != nil {
					b.Fatal(err)
				}
			}
		})
		report(b)
	})
}

// BenchmarkPublishLatency measures Event() call to subscriber delivery
// through the real mosquitto (fsync + publish + broker + delivery).
func BenchmarkPublishLatency(b *testing.B) {
	br := mosquittotest.Start(b, mosquittotest.Config{Users: map[string]string{"bench": "pwb"}})
	var mu sync.Mutex
	var lat []time.Duration
	got := make(chan struct{}, 1024)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(br.URL()).SetClientID("benchsub").
		SetUsername(mosquittotest.AdminUser).SetPassword(br.Users[mosquittotest.AdminUser]).SetProtocolVersion(4))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)
	tok := sub.Subscribe("camwarden/v1/bench/evt/#", 1, func(_ paho.Client, m paho.Message) {
		now := time.Now()
		ev, err := DecodeEvent(m.Payload())
		if err != nil {
			return
		}
		mu.Lock()
		lat = append(lat, now.Sub(ev.TS))
		mu.Unlock()
		got <- struct{}{}
	})
	tok.Wait()
	c := dial(b, applianceOpts(b, br, "bench", ""))
	waitUp(b, c)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := c.Event(ctx, report.Event{Type: "bench", Time: time.Now(), Data: map[string]any{"i": i}}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			b.Fatal("event not delivered in 5s")
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
