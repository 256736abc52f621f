package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	fstore "github.com/camwarden/camwarden/ota/fleet"
)

func init() {
	register("ingest", "store the fleet's messages in PostgreSQL: ingest --db DSN [--share GROUP] --broker URL", runIngest)
}

// dbFlags are the fleet-store flags shared by ingest, export, watch and
// report.
type dbFlags struct {
	dsn, site string
}

func (d *dbFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&d.dsn, "db", os.Getenv("WARDENCTL_DB"), "fleet store: PostgreSQL URL or key=value DSN (env WARDENCTL_DB)")
	fs.StringVar(&d.site, "site-pattern", fstore.DefaultSitePattern, "regular expression whose first group is an appliance id's site")
}

func (d *dbFlags) open(ctx context.Context) (*fstore.Store, error) {
	st, err := fstore.Open(ctx, d.dsn, d.site)
	if err != nil {
		return nil, err
	}
	if err := st.Pool().Ping(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	return st, nil
}

func runIngest(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	var b brokerFlags
	b.add(fs)
	var d dbFlags
	d.add(fs)
	group := fs.String("share", "", "shared-subscription group: processes with the same group split the fleet; \"\" = plain subscription (one process)")
	batch := fs.Int("batch", 500, "most messages per database transaction")
	linger := fs.Duration("linger", 5*time.Millisecond, "how long a transaction waits to fill")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if d.dsn == "" {
		return errors.New("--db is required")
	}
	if b.clientID == "" {
		// The broker keeps the session under the client id: a random one
		// would leave a new, empty session behind at every start.
		host, _ := os.Hostname()
		b.clientID = "wardenctl-ingest-" + strings.NewReplacer(".", "-", "/", "-", "+", "-", "#", "-").Replace(host)
		if *group != "" {
			b.clientID += "-" + *group
		}
	}
	o, err := b.options()
	if err != nil {
		return err
	}
	st, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var stats fstore.IngestStats
	start := time.Now()
	err = fstore.Ingest(ctx, st, fstore.IngestOptions{Client: o, Group: *group, BatchMax: *batch, Linger: *linger, Logger: log}, &stats)
	fmt.Fprintf(out, "ingest: %d received, %d stored, %d rejected, %d skipped, %d retried writes in %s\n",
		stats.Received.Load(), stats.Stored.Load(), stats.Rejected.Load(), stats.Skipped.Load(), stats.Retries.Load(),
		time.Since(start).Truncate(time.Second))
	return err
}
