//go:build !linux

package lab

import (
	"context"
	"errors"
	"time"
)

// ErrUnsupported is returned where the lab needs Linux.
var ErrUnsupported = errors.New("lab: network namespace labs need Linux")

type proc struct {
	pid   int
	start uint64
}

func procStartTime(int) (uint64, error)                    { return 0, ErrUnsupported }
func procAlive(int, uint64) bool                           { return false }
func stopAll(context.Context, []proc, time.Duration) error { return ErrUnsupported }
func nsPids(context.Context, string) ([]int, error)        { return nil, ErrUnsupported }
func startInNS(string, string, []string, string) (int, uint64, chan struct{}, error) {
	return 0, 0, nil, ErrUnsupported
}
