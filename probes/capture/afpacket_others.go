//go:build !linux

package capture

import "time"

// Live is an AF_PACKET capture; only Linux has one.
type Live struct{}

// Open returns ErrUnsupported: live capture needs Linux AF_PACKET.
func Open(o Options) (*Live, error) { return nil, ErrUnsupported }

// ReadPacket returns ErrUnsupported.
func (l *Live) ReadPacket() (Packet, error) { return Packet{}, ErrUnsupported }

// SetReadDeadline returns ErrUnsupported.
func (l *Live) SetReadDeadline(time.Time) error { return ErrUnsupported }

// Stats returns ErrUnsupported.
func (l *Live) Stats() (Stats, error) { return Stats{}, ErrUnsupported }

// Close does nothing.
func (l *Live) Close() error { return nil }
