package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/camwarden/camwarden/firmware/atomicfile"
	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/riskreport"
	fstore "github.com/camwarden/camwarden/ota/fleet"
	"github.com/camwarden/camwarden/ota/policy"
	"github.com/camwarden/camwarden/ota/sign"
)

func init() {
	register("report", "write the risk-assessment report (one HTML file) for the fleet, a --site or an --appliance, from --db", runReport)
}

// maxReportActions bounds the "what was done" table.
const maxReportActions = 5000

func runReport(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var db dbFlags
	db.add(fs)
	site := fs.String("site", "", "report on this site only")
	app := fs.String("appliance", "", "report on this appliance only")
	outFile := fs.String("out", "report.html", "the HTML file to write (atomically)")
	dataFile := fs.String("data", "", "also write the report's input data (JSON) here: its SHA-256 is the digest in the report")
	since := fs.Duration("since", 90*24*time.Hour, "actions (cuts, restores, acknowledgements) of this long back")
	polFile := fs.String("policy", "", "the policy in force (signed envelope or JSON document), for its allow-list exceptions")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if db.dsn == "" {
		return errors.New("--db is required: the report is built from the fleet store")
	}
	if *site != "" && *app != "" {
		return errors.New("--site and --appliance: give one")
	}
	now := time.Now()
	d, err := reportData(ctx, &db, *site, *app, now.Add(-*since))
	if err != nil {
		return err
	}
	if *polFile != "" {
		doc, err := readPolicy(*polFile)
		if err != nil {
			return err
		}
		for _, a := range doc.AllowList {
			d.Exceptions = append(d.Exceptions, riskreport.Exception{MAC: a.MAC, Serial: a.Serial, Reason: a.Reason, Expires: a.Expires})
		}
		if !slices.Contains(d.PolicyVersions, fmt.Sprint(doc.Version)) {
			d.PolicyVersions = append(d.PolicyVersions, fmt.Sprintf("%d (file %s)", doc.Version, *polFile))
		}
	}
	var b bytes.Buffer
	if err := riskreport.Render(&b, d, now); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(*outFile, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if *dataFile != "" {
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(*dataFile, raw, 0o644); err != nil {
			return fmt.Errorf("--data: %w", err)
		}
	}
	digest, _ := d.Digest()
	fmt.Fprintf(out, "wrote %s: %s, %d devices on %d appliances, data sha256 %s\n", *outFile, d.Scope, len(d.Devices), d.Appliances, digest)
	return nil
}

func reportData(ctx context.Context, db *dbFlags, site, app string, since time.Time) (riskreport.Data, error) {
	var f fstore.Filter
	d := riskreport.Data{Scope: "Fleet", Source: "fleet store (wardenctl ingest)", Devices: []riskreport.Device{}}
	switch {
	case site != "":
		f.Sites, d.Scope = []string{site}, "Site "+site
	case app != "":
		f.Appliances, d.Scope = []string{app}, "Appliance "+app
	}
	st, err := db.open(ctx)
	if err != nil {
		return d, err
	}
	defer st.Close()
	apps, err := st.Appliances(ctx, f)
	if err != nil {
		return d, err
	}
	if len(apps) == 0 {
		return d, fmt.Errorf("the store holds no appliance for %s", d.Scope)
	}
	d.Appliances = len(apps)
	fw, pv := map[string]bool{}, map[string]bool{}
	for _, a := range apps {
		if a.Firmware != "" {
			fw[a.Firmware] = true
			pv[fmt.Sprint(a.PolicyVersion)] = true
		}
	}
	d.Firmware, d.PolicyVersions = keys(fw), keys(pv)
	err = st.Devices(ctx, f, func(r fstore.DeviceRow) error {
		d.Devices = append(d.Devices, riskreport.Device{Appliance: r.Appliance, Site: r.Site, Device: r.Record.Device})
		return nil
	})
	if err != nil {
		return d, err
	}
	evs, err := st.Events(ctx, f, []string{report.EvtRelayCut, report.EvtRelayRestored, report.EvtAcknowledged}, since, maxReportActions)
	if err != nil {
		return d, err
	}
	for _, e := range evs {
		a := riskreport.Action{Time: e.TS, Appliance: e.Appliance}
		switch e.Type {
		case report.EvtRelayCut:
			a.Kind = "Uplink cut"
			if macs := strs(e.Data["macs"]); len(macs) > 0 {
				a.Detail = "restricted device present: " + strings.Join(macs, ", ")
			}
		case report.EvtRelayRestored:
			a.Kind = "Uplink restored"
			if by, _ := e.Data["by"].(string); by != "" {
				a.Who = by
			}
		case report.EvtAcknowledged:
			a.Kind = "Cut acknowledged"
			a.Who, _ = e.Data["source"].(string)
		}
		d.Actions = append(d.Actions, a)
	}
	return d, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func strs(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// readPolicy reads the policy document from a signed envelope (as `policy
// sign` writes it) or a plain JSON document. The report only lists its
// exceptions: the appliances, not this command, verify signatures.
func readPolicy(path string) (*policy.Document, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	payload := raw
	if env, err := sign.ParseEnvelope(raw); err == nil {
		payload = env.Payload
	}
	doc, err := policy.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("--policy %s: %w", path, err)
	}
	return doc, nil
}
