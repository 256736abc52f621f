package nvr_test

import (
	"slices"
	"testing"

	"github.com/camwarden/camwarden/probes/classify"
)

// restricted are the makers the default policy flags.
var restricted = []string{"hikvision", "dahua", "huawei", "zte", "hytera"}

// Every camera the emulated recorders list is classified, from what the
// recorder says about it, to the profile's ground truth: a restricted
// camera is never missed, and no camera is given the wrong maker.
func TestChannelVerdictsMatchGroundTruth(t *testing.T) {
	for _, name := range []string{"hikvision-nvr", "hikvision-nvr-old", "lorex-nvr"} {
		t.Run(name, func(t *testing.T) {
			d := start(t, name, nil)
			r, _, err := d.probe(t, d.prober(cred(d)))
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for i, pc := range d.p.NVR.Channels {
				num := pc.Number
				if d.p.NVR.Kind == "dahua" {
					num = i + 1 // Dahua: the n-th RemoteDevice entry is channel n
				}
				c := channel(r, num)
				if pc.IP == "" && pc.Model == "" {
					if c != nil {
						t.Errorf("empty slot %d listed: %+v", num, c)
					}
					continue
				}
				if c == nil {
					t.Errorf("channel %d (%s) missing", num, pc.Name)
					continue
				}
				seen++
				v := classify.Classify(classify.Default(), classify.Input{Facts: c.Facts(d.target.IP.String())})
				flagged := slices.Contains(restricted, v.Maker)
				switch {
				case v.Maker == "" && pc.Flagged:
					t.Errorf("channel %d: restricted %s camera %q not recognised", num, pc.TrueMaker, pc.Model)
				case v.Maker != "" && v.Maker != pc.TrueMaker:
					t.Errorf("channel %d: maker %q, truth %q", num, v.Maker, pc.TrueMaker)
				case flagged != pc.Flagged:
					t.Errorf("channel %d: flagged %v, truth %v", num, flagged, pc.Flagged)
				case v.Brand != "" && pc.TrueBrand != "" && v.Brand != pc.TrueBrand:
					t.Errorf("channel %d: brand %q, truth %q", num, v.Brand, pc.TrueBrand)
				}
				// A camera the NVR reaches over its maker's own protocol is
				// strong evidence, enough for the default isolation floor.
				if (pc.Protocol == "HIKVISION" || pc.Protocol == "Private") && v.Confidence < classify.Strong {
					t.Errorf("channel %d over %s: confidence %s, want strong", num, pc.Protocol, v.Confidence)
				}
			}
			if seen != len(r.Channels) {
				t.Errorf("%d channels read, %d in the profile", len(r.Channels), seen)
			}
		})
	}
}
