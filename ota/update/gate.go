package update

import (
	"context"
	"errors"
	"fmt"
)

// Check is one named health check of the gate.
type Check struct {
	Name string
	// Check returns nil when healthy. It is called repeatedly until the
	// gate passes; it must return promptly.
	Check func(ctx context.Context, t Trial) error
}

// Checks is a gate that passes when every check passes; its error names
// each failing check, so a rollback's reason says what was unhealthy.
func Checks(cs ...Check) Gate {
	return func(ctx context.Context, t Trial) error {
		var errs []error
		for _, c := range cs {
			if c.Check == nil {
				continue
			}
			if err := c.Check(ctx, t); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
			}
		}
		return errors.Join(errs...)
	}
}
