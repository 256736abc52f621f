package classify_test

import (
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
	"github.com/camwarden/camwarden/probes/oui"
)

// inventory builds n devices from the golden cases, each under its own MAC,
// half of them with a prefix drawn from the whole registry so the OUI
// lookup sees realistic misses and hits.
func inventory(t testing.TB, n int) []classify.Input {
	t.Helper()
	profiles := profileMap(t)
	cases := loadGolden(t)
	var prefixes []oui.Entry
	for e := range oui.All() {
		if e.Bits == 24 {
			prefixes = append(prefixes, e)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]classify.Input, n)
	for i := range out {
		in := cases[i%len(cases)].input(t, profiles)
		mac := make(net.HardwareAddr, 6)
		copy(mac, in.MAC)
		if i%2 == 1 {
			p := prefixes[rng.IntN(len(prefixes))].Prefix
			hw, _ := net.ParseMAC(p + ":00:00:00")
			copy(mac, hw[:3])
		}
		mac[3], mac[4], mac[5] = byte(i>>16), byte(i>>8), byte(i)
		in.MAC = mac
		in.Facts = append([]probes.Fact(nil), in.Facts...)
		out[i] = in
	}
	return out
}

func BenchmarkClassify5000(b *testing.B) {
	devs := inventory(b, 5000)
	set := classify.Default()
	classify.Classify(set, devs[0]) // load the OUI table outside the timing
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, d := range devs {
			classify.Classify(set, d)
		}
	}
	b.ReportMetric(float64(b.N*len(devs))/b.Elapsed().Seconds(), "devices/s")
}

// Classify shares one Set across goroutines; run with -race.
func TestClassifyConcurrent(t *testing.T) {
	devs := inventory(t, 400)
	set := classify.Default()
	want := make([]string, len(devs))
	for i, d := range devs {
		want[i] = classify.Explain(classify.Classify(set, d))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(devs); i += 2 {
				if got := classify.Explain(classify.Classify(set, devs[i])); got != want[i] {
					t.Errorf("device %d: concurrent verdict differs", i)
					return
				}
			}
		}()
	}
	wg.Wait()
}
