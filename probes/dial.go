package probes

import (
	"context"
	"net"
	"time"
)

// DialFunc opens a connection the way net.Dialer.DialContext does. TCP
// probers take one so tests can map well-known ports to emulated devices.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DialBounded opens a TCP connection to addr with dial (a plain net.Dialer
// when nil) and binds it to ctx: every read and write fails at ctx's
// deadline, and ctx ending interrupts a blocked one at once, so a device
// that stalls mid-reply cannot hold a prober past its budget. release
// undoes the binding and closes the connection; call it when done.
func DialBounded(ctx context.Context, dial DialFunc, addr string) (conn net.Conn, release func(), err error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err = dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	// A deadline in the past, not time.Now(), so it has passed whatever
	// the clock does next.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return conn, func() {
		stop()
		conn.Close()
	}, nil
}
