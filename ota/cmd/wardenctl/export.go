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
	fstore "github.com/camwarden/camwarden/ota/fleet"
)

func init() {
	register("export", "write the fleet's camera inventory (verdicts, evidence) as CSV, JSON or JSONL, from the broker or --db", runExport)
}

// exportDevice is one camera in the export: the public device shape plus the
// appliance that reported it.
type exportDevice struct {
	Appliance string `json:"appliance"`
	Site      string `json:"site,omitempty"`
	report.Device
	ReportedAt time.Time `json:"reported_at"`
}

type exportDoc struct {
	Schema      string         `json:"schema"`
	GeneratedAt time.Time      `json:"generated_at"`
	Broker      string         `json:"broker,omitempty"`
	Appliances  int            `json:"appliances"`
	Devices     []exportDevice `json:"devices"`
}

var csvHeader = []string{"appliance", "mac", "ip", "maker", "brand", "model", "serial", "firmware", "flagged",
	"confidence", "action", "vlan", "first_seen", "last_seen", "reported_at", "evidence", "conflicts", "status", "site",
	"id", "behind", "cameras_behind", "review"}

// filterFlags select devices in export, watch and report.
type filterFlags struct {
	sites, apps, statuses, makers, after, before string
}

func (f *filterFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.sites, "site", "", "only these sites (comma-separated)")
	fs.StringVar(&f.apps, "appliance", "", "only these appliances (comma-separated)")
	fs.StringVar(&f.statuses, "status", "", "only these statuses: flagged, review, clean, unknown (comma-separated)")
	fs.StringVar(&f.makers, "maker", "", "only these makers (comma-separated, e.g. hikvision,dahua)")
	fs.StringVar(&f.after, "first-seen-after", "", "only devices first seen at or after this time (RFC 3339, or a duration ago: 72h)")
	fs.StringVar(&f.before, "first-seen-before", "", "only devices first seen before this time (RFC 3339, or a duration ago)")
}

func list(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (f *filterFlags) filter(now time.Time) (fstore.Filter, error) {
	out := fstore.Filter{Sites: list(f.sites), Appliances: list(f.apps), Statuses: list(f.statuses), Makers: list(f.makers)}
	for _, st := range out.Statuses {
		switch st {
		case report.StatusFlagged, report.StatusReview, report.StatusClean, report.StatusUnknown:
		default:
			return out, fmt.Errorf("--status %q: want flagged, review, clean or unknown", st)
		}
	}
	when := func(name, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		if d, err := time.ParseDuration(v); err == nil {
			return now.Add(-d), nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return t, fmt.Errorf("--%s %q: want RFC 3339 (2026-11-23T10:00:00Z) or a duration (72h)", name, v)
		}
		return t, nil
	}
	var err error
	if out.FirstSeenFrom, err = when("first-seen-after", f.after); err != nil {
		return out, err
	}
	out.FirstSeenTo, err = when("first-seen-before", f.before)
	return out, err
}

func runExport(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	var b brokerFlags
	b.add(fs)
	var db dbFlags
	db.add(fs)
	var ff filterFlags
	ff.add(fs)
	format := fs.String("format", "csv", "csv, json or jsonl (one device per line)")
	outFile := fs.String("out", "", "write here (atomically) instead of standard output")
	timeout := fs.Duration("timeout", 10*time.Second, "without --db: longest wait for the retained state")
	quiet := fs.Duration("quiet", 500*time.Millisecond, "without --db: stop this long after the last retained message")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "csv" && *format != "json" && *format != "jsonl" {
		return fmt.Errorf("--format %q: want csv, json or jsonl", *format)
	}
	filter, err := ff.filter(time.Now())
	if err != nil {
		return err
	}
	doc := exportDoc{Schema: "camwarden.export/1", GeneratedAt: time.Now().UTC(), Broker: b.broker, Devices: []exportDevice{}}
	if db.dsn != "" {
		doc.Broker = ""
		st, err := db.open(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		apps := map[string]bool{}
		err = st.Devices(ctx, filter, func(r fstore.DeviceRow) error {
			apps[r.Appliance] = true
			doc.Devices = append(doc.Devices, exportDevice{Appliance: r.Appliance, Site: r.Site, Device: r.Record.Device, ReportedAt: r.ReportedAt})
			return nil
		})
		if err != nil {
			return err
		}
		doc.Appliances = len(apps)
	} else {
		siteOf, err := fstore.SiteFunc(db.site)
		if err != nil {
			return err
		}
		f, err := collect(ctx, &b, *timeout, *quiet)
		if err != nil {
			return err
		}
		f.mu.Lock()
		for _, a := range f.sorted() {
			site := siteOf(a.ID)
			n := len(doc.Devices)
			macs := make([]string, 0, len(a.Devices))
			for m := range a.Devices {
				macs = append(macs, m)
			}
			slices.Sort(macs)
			for _, m := range macs {
				d := a.Devices[m]
				if d.Status == "" {
					d.Status = legacyStatus(d.Device)
				}
				if filter.Match(site, a.ID, d.Device) {
					doc.Devices = append(doc.Devices, exportDevice{Appliance: a.ID, Site: site, Device: d.Device, ReportedAt: d.TS})
				}
			}
			if len(doc.Devices) > n || (len(a.Devices) == 0 && filter.Match(site, a.ID, report.Device{Status: report.StatusUnknown})) {
				doc.Appliances++
			}
		}
		f.mu.Unlock()
	}

	var buf strings.Builder
	switch *format {
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	case "jsonl":
		enc := json.NewEncoder(&buf)
		for _, d := range doc.Devices {
			if err := enc.Encode(d); err != nil {
				return err
			}
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
				ts(d.ReportedAt), strings.Join(ev, "; "), strings.Join(d.Conflicts, "; "), d.Status, d.Site,
				d.ID, behindText(d.Behind), camerasBehind(d.CamerasBehind), strings.Join(d.Review, "; ")})
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

// legacyStatus names the status of a device reported by firmware that
// predates the status field.
func legacyStatus(d report.Device) string {
	switch {
	case d.Flagged:
		return report.StatusFlagged
	case d.Maker != "":
		return report.StatusClean
	}
	return report.StatusUnknown
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

// behindText says where a camera behind a recorder sits, in one CSV cell.
func behindText(b *report.Behind) string {
	if b == nil {
		return ""
	}
	return strings.TrimSpace(fmt.Sprintf("recorder %s (%s) channel %d %s %s", b.NVR, b.NVRIP, b.Channel, b.IP, b.Protocol))
}

func camerasBehind(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}
