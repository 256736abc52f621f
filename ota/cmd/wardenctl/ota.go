package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/camwarden/camwarden/firmware/report/wire"
	"github.com/camwarden/camwarden/ota/update"
)

func init() {
	register("ota", "firmware rollout: push (--fleet | --appliance ID) --version V --repository URL | status", runOTA)
}

// otaJob is the job message; appliances take version and repository and
// check everything else in the signed release metadata.
type otaJob struct {
	Schema string    `json:"schema"`
	TS     time.Time `json:"ts"`
	update.Job
}

// otaStatus mirrors firmware/app.OTAStatusPayload.
type otaStatus struct {
	wire.Header
	update.Status
}

func runOTA(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("ota: want push or status")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("ota "+sub, flag.ContinueOnError)
	var b brokerFlags
	b.add(fs)
	switch sub {
	case "push":
		fleet := fs.Bool("fleet", false, "push to camwarden/v1/fleet/ota/job (every appliance)")
		app := fs.String("appliance", "", "push to camwarden/v1/ID/ota/job")
		version := fs.String("version", "", "release version (as given to wardenctl release)")
		repo := fs.String("repository", "", "https URL of the served repository")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *fleet == (*app != "") {
			return errors.New("ota push: want exactly one of --fleet or --appliance ID")
		}
		if *app == "fleet" || strings.ContainsAny(*app, "/+#") {
			return fmt.Errorf("ota push: --appliance %q is not an appliance id", *app)
		}
		job := otaJob{Schema: update.SchemaJob, TS: nowFn().UTC().Truncate(time.Second),
			Job: update.Job{Version: *version, Repository: *repo}}
		payload, _ := json.Marshal(job)
		if _, err := update.ParseJob(payload); err != nil {
			return err
		}
		topic := wire.FleetTopic + update.TopicJob
		if *app != "" {
			topic = wire.TopicRoot + *app + "/" + update.TopicJob
		}
		// Retained: appliances offline now pick the job up when they
		// connect; one that already runs the version ignores it.
		if err := publishRetained(ctx, &b, topic, payload); err != nil {
			return err
		}
		fmt.Fprintf(out, "pushed %s from %s to %s (watch: wardenctl ota status)\n", *version, *repo, topic)
		return nil
	case "status":
		timeout := fs.Duration("timeout", 10*time.Second, "longest wait for the retained statuses")
		quiet := fs.Duration("quiet", 500*time.Millisecond, "stop this long after the last one")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		st, err := collectOTA(ctx, &b, *timeout, *quiet)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "APPLIANCE\tRUNNING\tSTATE\tRELEASE\tPROGRESS\tREASON")
		for _, id := range slices.Sorted(maps.Keys(st)) {
			s := st[id]
			prog := ""
			if s.State == update.StateDownloading {
				prog = fmt.Sprintf("%d%%", s.Progress)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, s.Running, s.State, s.Version, prog, s.Reason)
		}
		return tw.Flush()
	}
	return fmt.Errorf("ota: unknown subcommand %q", sub)
}

// collectOTA gathers the retained ota/status of every appliance.
func collectOTA(ctx context.Context, b *brokerFlags, timeout, quiet time.Duration) (map[string]otaStatus, error) {
	return collectLatest(ctx, b, wire.TopicRoot+"+/"+update.TopicStatus, timeout, quiet, func(_ string, raw []byte) (otaStatus, uint64, bool) {
		var p otaStatus
		if err := json.Unmarshal(raw, &p); err != nil || p.Schema != update.SchemaStatus {
			return p, 0, false
		}
		return p, p.Seq, true
	})
}
