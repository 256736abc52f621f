//go:build linux

package labrelay

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Relay switches one link in one namespace.
type Relay struct {
	ns, dev string

	mu  sync.Mutex
	h   *netlink.Handle
	cut bool
}

// Open finds dev inside the named namespace (as `ip netns add` names it) and
// reads its current state: a link that is down reads as cut.
func Open(ns, dev string) (*Relay, error) {
	if ns == "" {
		// Refuse the caller's own namespace: that is where the real
		// interfaces live.
		return nil, errors.New("labrelay: namespace name required")
	}
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("labrelay: namespace %s: %w", ns, err)
	}
	defer nsh.Close()
	self, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("labrelay: current namespace: %w", err)
	}
	defer self.Close()
	if nsh.Equal(self) {
		return nil, fmt.Errorf("labrelay: namespace %s is the caller's own; refusing to switch its links", ns)
	}
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return nil, fmt.Errorf("labrelay: netlink in %s: %w", ns, err)
	}
	l, err := h.LinkByName(dev)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("labrelay: link %s in %s: %w", dev, ns, err)
	}
	return &Relay{ns: ns, dev: dev, h: h, cut: l.Attrs().Flags&net.FlagUp == 0}, nil
}

// Cut sets the link down (true) or up (false).
func (r *Relay) Cut(cut bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return fmt.Errorf("labrelay: %s/%s: closed", r.ns, r.dev)
	}
	l, err := r.h.LinkByName(r.dev)
	if err != nil {
		return fmt.Errorf("labrelay: link %s in %s: %w", r.dev, r.ns, err)
	}
	if cut {
		err = r.h.LinkSetDown(l)
	} else {
		err = r.h.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("labrelay: set %s in %s cut=%t: %w", r.dev, r.ns, cut, err)
	}
	r.cut = cut
	return nil
}

// IsCut reports the last state set (or read at Open).
func (r *Relay) IsCut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cut
}

// Close releases the netlink handle; the link stays as it is.
func (r *Relay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h != nil {
		r.h.Close()
		r.h = nil
	}
	return nil
}
