package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
	"github.com/camwarden/camwarden/firmware/buildinfo"
	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/riskreport"
)

// writeSurveyReport writes the risk-assessment report for the one site a
// survey saw (the installer's copy), and with dataPath its input data, so
// the digest printed in the report can be checked.
func writeSurveyReport(path, dataPath, iface string, devs []report.Device, pol config.Policy) error {
	d := riskreport.Data{Scope: "Site surveyed on " + iface, Source: "camwarden survey on " + iface + " (local policy)",
		PolicyVersions: []string{"local configuration"}, Firmware: []string{buildinfo.Version}, Appliances: 1,
		Devices: make([]riskreport.Device, 0, len(devs))}
	for _, dev := range devs {
		d.Devices = append(d.Devices, riskreport.Device{Appliance: "this appliance", Device: dev})
	}
	for _, a := range pol.Allow {
		d.Exceptions = append(d.Exceptions, riskreport.Exception{MAC: a.MAC, Serial: a.Serial, Reason: a.Reason, Expires: a.Expires})
	}
	var b bytes.Buffer
	if err := riskreport.Render(&b, d, time.Now()); err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	if err := atomicfile.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	if dataPath != "" {
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(dataPath, raw, 0o644); err != nil {
			return fmt.Errorf("--report-data: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "camwarden survey: report for %d devices written to %s\n", len(devs), path)
	return nil
}
