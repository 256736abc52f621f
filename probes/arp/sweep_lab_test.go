//go:build linux

package arp_test

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/arp"
	"github.com/camwarden/camwarden/scripts/lab/labtest"
)

// TestSweepLab sweeps a lab /24 holding the appliance and five hosts: the
// sweep must find exactly the five, through their real kernels' ARP.
func TestSweepLab(t *testing.T) {
	n := labtest.Net(t, "cwtpca")
	app := labtest.Host(t, n, "app", 1, nil)
	want := map[string]bool{}
	for i := 0; i < 5; i++ {
		h := labtest.Host(t, n, "h"+string(rune('a'+i)), 20+i*7, nil)
		want[h.Addr.Addr().String()+" "+h.MAC.String()] = true
	}
	ifi, err := app.Interface()
	if err != nil {
		t.Fatal(err)
	}
	l := probes.Link{Iface: ifi, Addr: app.Addr.Addr(), Subnets: []netip.Prefix{app.Addr.Masked()}}
	s := &arp.Sweeper{Rate: 2000, Linger: 500 * time.Millisecond}
	var (
		mu  sync.Mutex
		got = map[string]int{}
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err = app.Do(func() error {
		return s.Discover(ctx, l, func(o probes.Observation) {
			mu.Lock()
			got[o.IP.String()+" "+o.MAC.String()]++
			mu.Unlock()
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("swept 253 addresses in %v", time.Since(start))
	var gotKeys []string
	for k, c := range got {
		gotKeys = append(gotKeys, k)
		if c != 1 {
			t.Errorf("%s reported %d times", k, c)
		}
	}
	var wantKeys []string
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("found %v\nwant  %v", gotKeys, wantKeys)
	}
}
