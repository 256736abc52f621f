package probes

import (
	"errors"
	"fmt"
	"slices"
)

// Registry holds the probes an appliance runs. It is built explicitly by the
// app from configuration (no init-time registration), so tests and the daemon
// can run different sets.
type Registry struct {
	Decoders    []Decoder
	Probers     []Prober
	Discoverers []Discoverer
}

// Names lists every probe name in the registry, sorted.
func (r *Registry) Names() []string {
	var n []string
	for _, d := range r.Decoders {
		n = append(n, d.Name())
	}
	for _, p := range r.Probers {
		n = append(n, p.Name())
	}
	for _, d := range r.Discoverers {
		n = append(n, d.Name())
	}
	slices.Sort(n)
	return slices.Compact(n)
}

// DecodeAll offers f to every decoder; errors are joined, each naming its
// decoder, and do not stop the others.
func (r *Registry) DecodeAll(f *Frame, emit Sink) error {
	var errs []error
	for _, d := range r.Decoders {
		if err := d.Decode(f, emit); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Name(), err))
		}
	}
	return errors.Join(errs...)
}
