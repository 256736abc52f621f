package wsd

import (
	"errors"
	"fmt"

	"github.com/camwarden/camwarden/probes/internal/xmltree"
)

// Bounds on one message. A WS-Discovery datagram is at most 64 KiB by UDP;
// the element limits stop a small but deeply nested or very wide message
// from costing much.
const (
	MaxMessage  = 64 << 10
	maxDepth    = 32
	maxElements = 4096
	maxText     = 8 << 10
)

var limits = xmltree.Limits{MaxBytes: MaxMessage, MaxDepth: maxDepth, MaxElements: maxElements, MaxText: maxText}

var (
	// ErrTooLarge is returned for messages over MaxMessage bytes.
	ErrTooLarge = errors.New("message too large")
	// ErrTooComplex is returned when a message nests too deep or has too many elements.
	ErrTooComplex = errors.New("message too deeply nested or too many elements")
	// ErrNotSOAP is returned when the XML is not a SOAP envelope with a body.
	ErrNotSOAP = errors.New("not a SOAP envelope")
)

// parseTree reads b within the package's bounds, reporting a hit bound
// with the package's own errors.
func parseTree(b []byte) (*xmltree.Node, error) {
	root, err := xmltree.Parse(b, limits)
	switch {
	case errors.Is(err, xmltree.ErrTooLarge):
		return nil, ErrTooLarge
	case errors.Is(err, xmltree.ErrTooComplex):
		return nil, ErrTooComplex
	case errors.Is(err, xmltree.ErrNoRoot):
		return nil, fmt.Errorf("%w: no root element", ErrNotSOAP)
	}
	return root, err
}
