package nvr_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/camsim"
	"github.com/camwarden/camwarden/probes/nvr"
)

// BenchmarkNVR16Channels reads a 16-channel Hikvision recorder on loopback,
// Digest login included: what one sweep spends on one NVR.
func BenchmarkNVR16Channels(b *testing.B) {
	p, err := camsim.Lookup("hikvision-nvr")
	if err != nil {
		b.Fatal(err)
	}
	base := p.NVR.Channels[0]
	p.NVR.Channels = nil
	for i := range 16 {
		c := base
		c.Number, c.Name, c.IP, c.Serial = i+1, fmt.Sprintf("Camera %02d", i+1), fmt.Sprintf("192.168.254.%d", i+2), fmt.Sprintf("DS-2CD2346G2-ISU20220318AAWRJ%08d", i)
		p.NVR.Channels = append(p.NVR.Channels, c)
	}
	off, err := camsim.FreeOffset(80)
	if err != nil {
		b.Fatal(err)
	}
	h := camsim.Host{MAC: p.MAC(1), IP: netip.MustParseAddr("127.0.0.1"), PortOffset: off}
	stop := camsim.Start(p, h, nil)
	defer stop()
	if err := camsim.WaitListening(h, 3*time.Second, 80); err != nil {
		b.Fatal(err)
	}
	cred := nvr.Credential{User: p.NVR.User, Password: p.NVR.Password}
	b.ResetTimer()
	for b.Loop() {
		pr := &nvr.Prober{Creds: []nvr.Credential{cred}, Port: h.Port(80)}
		r, err := pr.Read(context.Background(), probes.Target{MAC: h.MAC, IP: h.IP})
		if err != nil || len(r.Channels) != 16 {
			b.Fatalf("read: %v, %d channels", err, len(r.Channels))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/nvr")
}
