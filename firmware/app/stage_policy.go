package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/enforce"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/probes/classify"
)

// Settings is everything a signed policy changes, held in one snapshot and
// swapped at once (daemon.settings), so no reader ever sees the rules of one
// policy with the signatures or probe settings of another.
type Settings struct {
	Version    uint64 // 0: the local policy of the configuration
	Enforce    enforce.Policy
	Signatures *classify.Set
	// Probes are the signed policy's probe settings; the zero value keeps
	// the configuration's.
	Probes policy.Probes
}

// PolicyFromConfig converts the local policy section into enforcement policy.
func PolicyFromConfig(c config.Policy) (enforce.Policy, error) {
	allow := make([]enforce.Allow, 0, len(c.Allow))
	for _, a := range c.Allow {
		allow = append(allow, enforce.Allow{MAC: a.MAC, Serial: a.Serial, Reason: a.Reason, Expires: a.Expires})
	}
	p, err := enforce.FromRules(enforce.Rules{FlaggedMakers: c.FlaggedMakers, FlaggedComponents: c.FlaggedComponents,
		Actions: c.Actions, MinIsolate: c.MinIsolate, Allow: allow, HoldTime: c.HoldTime, AutoRestore: c.AutoRestore})
	if err != nil {
		return p, fmt.Errorf("policy.%w", err)
	}
	return p, nil
}

// policyFromDocument converts a verified signed policy with the same
// converter as the local one. A document that omits hold_time gets the
// default; the configuration's 0 means "no hold".
func policyFromDocument(doc *policy.Document) (enforce.Policy, error) {
	allow := make([]enforce.Allow, 0, len(doc.AllowList))
	for _, a := range doc.AllowList {
		allow = append(allow, enforce.Allow{MAC: a.MAC, Serial: a.Serial, Reason: a.Reason, Expires: a.Expires})
	}
	hold := time.Duration(doc.HoldTime)
	if hold == 0 {
		hold = enforce.DefaultHoldTime
	}
	p, err := enforce.FromRules(enforce.Rules{FlaggedMakers: doc.FlaggedMakers, FlaggedComponents: doc.FlaggedComponents,
		Actions: doc.Actions, MinIsolate: doc.MinIsolate, Allow: allow, HoldTime: hold, AutoRestore: doc.AutoRestore,
		Version: doc.Version})
	if err != nil {
		return p, fmt.Errorf("signed policy v%d: %w", doc.Version, err)
	}
	return p, nil
}

// swapSettings puts s in force: the enforcer takes its rules first (a
// policy it refuses changes nothing), then the snapshot is swapped in one
// store, and every device is re-decided and re-reported at once.
func (d *daemon) swapSettings(ctx context.Context, s Settings) {
	if err := d.enf.SetPolicy(s.Enforce); err != nil {
		d.log.Error("signed policy not applicable", "version", s.Version, "err", err)
		return
	}
	if s.Signatures == nil {
		s.Signatures = classify.Default()
	}
	d.settings.Store(&s)
	d.pipe.Republish(ctx)
	d.log.Info("policy in force", "version", s.Version)
}

// sweepInterval is the signed policy's sweep interval when it sets one,
// else the configuration's; the scheduler asks before every wait.
func (d *daemon) sweepInterval() time.Duration {
	if si := time.Duration(d.settings.Load().Probes.SweepInterval); si > 0 {
		return si
	}
	return d.cfg.Probing.SweepInterval
}

// probeAllowed applies the policy snapshot's passive_only and disabled.
func (d *daemon) probeAllowed(name string) bool {
	ps := d.settings.Load().Probes
	if ps.PassiveOnly {
		return false
	}
	for _, n := range ps.Disabled {
		if n == name {
			return false
		}
	}
	return true
}

// startPolicy loads the stored signed policy (before any probe runs) and,
// with a broker link, subscribes to key sets, policies and signed commands.
// Without policy.root_key the local policy applies and nothing signed is
// accepted.
func (d *daemon) startPolicy() error {
	if d.cfg.Policy.RootKey == "" {
		d.log.Info("policy.root_key not set: signed policies and commands are not accepted; the local policy applies")
		return nil
	}
	local := d.settings.Load().Enforce
	ctx := context.WithoutCancel(d.ctx)
	var pub PolicyPublisher
	if d.link != nil {
		pub = d.link
	}
	pm, err := NewPolicyManager(PolicyOptions{Dir: filepath.Join(d.cfg.StateDir, "policy"), RootKey: d.cfg.Policy.RootKey,
		ApplianceID: d.id, Site: d.cfg.Site, Fallback: &local, Publisher: pub, Now: d.now, Logger: d.log,
		OnApply: func(s Settings) { d.swapSettings(ctx, s) }})
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	d.policy = pm
	if s, ok := pm.Current(); ok {
		d.swapSettings(ctx, s)
	}
	if d.link == nil {
		d.log.Warn("policy.root_key is set but no mqtt.broker: only the stored policy applies")
		return nil
	}
	if err := pm.Subscribe(d.link); err != nil {
		return fmt.Errorf("policy subscribe: %w", err)
	}
	ch, err := NewCommandHandler(CommandOptions{ApplianceID: d.id, Engine: pm.Engine(), Publisher: d.link, Logger: d.log,
		Ack: func(source string) error { return d.enf.Acknowledge(source) },
		Rescan: func() error {
			s := d.sched.Load()
			if s == nil {
				return errors.New("no active probing configured")
			}
			d.goRun(func(ctx context.Context) error { s.Sweep(ctx); return nil })
			return nil
		},
		Forget: func(mac string) error {
			if !d.inv.Forget(mac) {
				return fmt.Errorf("no device %s", mac)
			}
			d.enf.Forget(mac)
			return d.rep.Forget(ctx, mac)
		}})
	if err != nil {
		return fmt.Errorf("commands: %w", err)
	}
	return ch.Subscribe(d.link)
}
