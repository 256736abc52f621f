package mqtt

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
)

// BenchmarkOutboxAppend measures durable (fsynced) event appends per second:
// "serial" is one writer waiting for each commit; "parallel" is many writers
// sharing commits (group commit).
func BenchmarkOutboxAppend(b *testing.B) {
	ev := report.Event{Type: "device_new", MAC: "aa:bb:cc:00:00:01", Data: map[string]any{"maker": "hikvision", "ip": "198.18.1.10"}}
	run := func(b *testing.B, parallel bool) {
		ob, err := openOutbox(b.TempDir()+"/o.db", 10_000_000, time.Hour, time.Now)
		if err != nil {
			b.Fatal(err)
		}
		defer ob.close()
		one := func() {
			e := ev
			e.Time = time.Now()
			_, done, err := ob.append(e, 1, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		if parallel {
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					one()
				}
			})
		} else {
			for b.Loop() {
				one()
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("serial", func(b *testing.B) { run(b, false) })
	b.Run("parallel", func(b *testing.B) { run(b, true) })
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
