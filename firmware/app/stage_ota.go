package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// startOTA takes firmware jobs from the broker once signed policy is set up
// (releases are signed by a key of the same key set). The health gate of a
// release on trial checks capture and watchdog, policy, relay and broker.
func (d *daemon) startOTA() error {
	if d.link == nil || d.policy == nil {
		return nil
	}
	var roots *x509.CertPool
	if d.cfg.OTA.CAFile != "" {
		pem, err := os.ReadFile(d.cfg.OTA.CAFile)
		if err != nil {
			return fmt.Errorf("ota.ca_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ota.ca_file %s: no PEM certificates", d.cfg.OTA.CAFile)
		}
	}
	ota, err := NewOTAManager(OTAOptions{Dir: filepath.Join(d.cfg.StateDir, "update"), ApplianceID: d.id,
		Trust: d.policy.Engine().Trust(), RootCAs: roots, Decision: d.opts.Update, TrialTimeout: d.cfg.OTA.TrialTimeout,
		Publisher: d.link, Logger: d.log,
		Restart: func() { d.restart.Store(true); d.stop() },
		Health: OTAHealth{
			Capture: func(context.Context) error { return d.wd.Healthy() },
			Policy:  func(context.Context) error { return d.enf.Policy().Validate() },
			Board: func(context.Context) error {
				if f := d.enf.Status().RelayFault; f != "" {
					return errors.New("relay: " + f)
				}
				return nil
			},
			Watchdog: func(context.Context) error { return d.wd.Healthy() },
			Broker:   d.link.Connected,
		}})
	if err != nil {
		return fmt.Errorf("ota: %w", err)
	}
	if err := ota.Subscribe(d.link); err != nil {
		return fmt.Errorf("ota subscribe: %w", err)
	}
	d.goRun(ota.Run)
	return nil
}
