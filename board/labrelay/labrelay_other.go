//go:build !linux

package labrelay

// Relay is unavailable off Linux.
type Relay struct{}

// Open always fails off Linux.
func Open(ns, dev string) (*Relay, error) { return nil, ErrUnsupported }

func (*Relay) Cut(bool) error { return ErrUnsupported }
func (*Relay) IsCut() bool    { return false }
func (*Relay) Close() error   { return nil }
