package camsim

import (
	"fmt"
	"sync"

	"github.com/camwarden/camwarden/probes/nvr"
)

// emulatorCache hands out one Emulator per running host, because the web
// server asks each mount prefix for its handler separately and the
// lock-out count must be one for the whole device. At most 1024 are kept
// (then the cache starts afresh: emulated devices live for one test).
type emulatorCache struct {
	mu sync.Mutex
	m  map[string]*nvr.Emulator
}

func newEmulatorCache() *emulatorCache { return &emulatorCache{m: map[string]*nvr.Emulator{}} }

func (c *emulatorCache) get(p *Profile, h Host) *nvr.Emulator {
	k := fmt.Sprintf("%p|%s|%s|%d", p, h.MAC, h.IP, h.PortOffset)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		return e
	}
	if len(c.m) >= 1024 {
		c.m = map[string]*nvr.Emulator{}
	}
	e := NVREmulator(p, h)
	c.m[k] = e
	return e
}
