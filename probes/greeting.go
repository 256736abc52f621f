package probes

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// DialWithin is DialBounded under the prober's own budget: the connection
// fails timeout after the dial starts, or when ctx ends if sooner. The
// returned context carries that deadline for readers that pace themselves
// against it (see Settle); release closes the connection and ends the
// context.
func DialWithin(ctx context.Context, dial DialFunc, addr string, timeout time.Duration) (context.Context, net.Conn, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	conn, release, err := DialBounded(ctx, dial, addr)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, conn, func() {
		release()
		cancel()
	}, nil
}

// Settle shortens conn's read deadline to wait, and no further than ctx's
// deadline: once a device has started talking, a pause means it has said
// its piece, and a prober should not sit out the whole budget on a server
// that keeps the connection open after its banner.
func Settle(ctx context.Context, conn net.Conn, wait time.Duration) {
	dl, _ := ctx.Deadline()
	if d := time.Now().Add(wait); d.Before(dl) {
		_ = conn.SetReadDeadline(d)
	}
}

// ProbeBanner is the Probe of a prober that reads one greeting from one TCP
// port of t: read gets the address and returns the greeting's text, and a
// non-empty one is emitted as the fact "<name>.banner", the one observation
// of this target. A closed, silent or foreign port is an answer, not a
// failure; only ctx ending is an error. now is time.Now when nil.
func ProbeBanner(ctx context.Context, t Target, emit Sink, name string, port int, now func() time.Time,
	read func(ctx context.Context, addr string) string) error {
	if text := read(ctx, netip.AddrPortFrom(t.IP, uint16(port)).String()); text != "" {
		if now == nil {
			now = time.Now
		}
		emit(Observation{Time: now(), MAC: t.MAC, IP: t.IP, Probe: name,
			Facts: []Fact{F(name+".banner", text)}})
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s: %w", name, t.IP, err)
	}
	return nil
}
