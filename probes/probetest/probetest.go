package probetest

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/capture"
)

// Golden returns testdata/name as stored, failing t if it cannot be read.
func Golden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GoldenHex returns the bytes of testdata/name, which holds one captured
// frame as hex (text, so diffs and reviews can read it).
func GoldenHex(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := hex.DecodeString(strings.TrimSpace(string(Golden(t, name))))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return raw
}

// Decode runs d over the frame in p the way the capture loop does and
// returns the decoded frame, what d emitted and d's error. A frame capture
// cannot decode fails t: golden frames are well-formed by construction.
func Decode(t testing.TB, d probes.Decoder, p capture.Packet) (probes.Frame, []probes.Observation, error) {
	t.Helper()
	var f probes.Frame
	if err := capture.Decode(p, &f); err != nil {
		t.Fatal(err)
	}
	var obs []probes.Observation
	err := d.Decode(&f, func(o probes.Observation) { obs = append(obs, o) })
	return f, obs, err
}

// Facts maps o's fact keys to values; of a repeated key the last one wins.
func Facts(o probes.Observation) map[string]string {
	m := map[string]string{}
	for _, f := range o.Facts {
		m[f.Key] = f.Value
	}
	return m
}

// BenchDecoder measures d on the frame raw, decoded once up front as the
// capture loop would, so the number is the decoder's alone. It reports
// allocations and packets/s, the figure the capture budget is written in.
func BenchDecoder(b *testing.B, d probes.Decoder, raw []byte) {
	b.Helper()
	var f probes.Frame
	if err := capture.Decode(capture.Packet{Data: raw}, &f); err != nil {
		b.Fatal(err)
	}
	emit := func(probes.Observation) {}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(&f, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
