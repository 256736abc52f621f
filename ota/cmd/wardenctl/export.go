package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
	"github.com/camwarden/camwarden/firmware/report"
)

func init() {
	register("export", "write the fleet's camera inventory (verdicts, evidence) as CSV or JSON", runExport)
}

// exportDevice is one camera in the export: the public device shape plus the
// appliance that reported it.
type exportDevice struct {
	Appliance string `json:"appliance"`
	report.Device
	ReportedAt time.Time `json:"reported_at"`
}

type exportDoc struct {
	Schema      string         `json:"schema"`
	GeneratedAt time.Time      `json:"generated_at"`
	Broker      string         `json:"broker"`
	Appliances  int            `json:"appliances"`
	Devices     []exportDevice `json:"devices"`
}

var csvHeader = []string{"appliance", "mac", "ip", "maker", "brand", "model", "serial", "firmware", "flagged",
	"confidence", "action", "vlan", "first_seen", "last_seen", "reported_at", "evidence", "conflicts"}

func runExport(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	var b brokerFlags
	b.add(fs)
	format := fs.String("format", "csv", "csv or json")
	outFile := fs.String("out", "", "write here (atomically) instead of standard output")
	timeout := fs.Duration("timeout", 10*time.Second, "longest wait for the retained state")
	quiet := fs.Duration("quiet", 500*time.Millisecond, "stop this long after the last retained message")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "csv" && *format != "json" {
		return fmt.Errorf("--format %q: want csv or json", *format)
	}
	f, err := collect(ctx, &b, *timeout, *quiet)
	if err != nil {
		return err
	}
	doc := exportDoc{Schema: "camwarden.export/1", GeneratedAt: time.Now().UTC(), Broker: b.broker, Devices: []exportDevice{}}
	f.mu.Lock()
	for _, a := range f.sorted() {
		doc.Appliances++
		macs := make([]string, 0, len(a.Devices))
		for m := range a.Devices {
			macs = append(macs, m)
		}
		slices.Sort(macs)
		for _, m := range macs {
			d := a.Devices[m]
			doc.Devices = append(doc.Devices, exportDevice{Appliance: a.ID, Device: d.Device, ReportedAt: d.TS})
		}
	}
	f.mu.Unlock()

	var buf strings.Builder
	switch *format {
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	case "csv":
		w := csv.NewWriter(&buf)
		_ = w.Write(csvHeader)
		for _, d := range doc.Devices {
			ev := make([]string, 0, len(d.Evidence))
			for _, e := range d.Evidence {
				ev = append(ev, e.Probe+": "+e.Detail)
			}
			_ = w.Write([]string{d.Appliance, d.MAC, d.IP, d.Maker, d.Brand, d.Model, d.Serial, d.Firmware,
				fmt.Sprint(d.Flagged), d.Confidence, d.Action, vlan(d.VLAN), ts(d.FirstSeen), ts(d.LastSeen),
				ts(d.ReportedAt), strings.Join(ev, "; "), strings.Join(d.Conflicts, "; ")})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
	}
	if *outFile == "" {
		_, err := io.WriteString(out, buf.String())
		return err
	}
	if err := atomicfile.WriteFile(*outFile, []byte(buf.String()), 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(out, "wrote %d devices from %d appliances to %s\n", len(doc.Devices), doc.Appliances, *outFile)
	return nil
}

func vlan(v uint16) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprint(v)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
