package camsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// service is one responder: enabled says whether a profile runs it, start
// runs it until ctx ends. start must return promptly with an error when it
// cannot listen, and otherwise block until ctx is done.
type service struct {
	enabled func(*Profile) bool
	start   func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error
}

// services is filled by the serve_*.go files of this package, one per
// protocol, so each protocol's adapter lives next to the others but apart.
var services = map[string]service{}

func register(name string, s service) {
	if _, dup := services[name]; dup {
		panic("camsim: duplicate service " + name)
	}
	services[name] = s
}

// Run starts every responder p names on h and blocks until ctx ends or one
// of them fails. The error names the failing service.
func Run(ctx context.Context, p Profile, h Host, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for name, svc := range services {
		if !svc.enabled(&p) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := svc.start(ctx, &p, h, log.With("service", name))
			if err != nil && ctx.Err() == nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("camsim %s: %s: %w", p.Name, name, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Start runs p on h in the background, as Run does, for a test or tool that
// holds a device up while it works. stop ends it and returns Run's error;
// calling it again returns the same error.
func Start(p Profile, h Host, log *slog.Logger) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, p, h, log) }()
	return sync.OnceValue(func() error {
		cancel()
		return <-done
	})
}
