package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	fstore "github.com/camwarden/camwarden/ota/fleet"
)

func init() {
	register("watch", "live fleet table: online/offline, last seen, cameras, flagged, uplink cut (from the broker, or --db)", runWatch)
}

func runWatch(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	var b brokerFlags
	b.add(fs)
	once := fs.Bool("once", false, "print one snapshot of the retained state and exit")
	timeout := fs.Duration("timeout", 10*time.Second, "with --once: longest wait for the retained state")
	quiet := fs.Duration("quiet", 500*time.Millisecond, "with --once: stop this long after the last retained message")
	var db dbFlags
	db.add(fs)
	var ff filterFlags
	ff.add(fs)
	every := fs.Duration("every", 2*time.Second, "with --db: how often the store is read")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if db.dsn != "" {
		filter, err := ff.filter(time.Now())
		if err != nil {
			return err
		}
		return watchStore(ctx, &db, filter, out, *once, isTTY(out), *every)
	}
	if *once {
		f, err := collect(ctx, &b, *timeout, *quiet)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return writeTable(out, f, time.Now())
	}
	return watchLive(ctx, &b, out, isTTY(out))
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func watchLive(ctx context.Context, b *brokerFlags, out io.Writer, tty bool) error {
	f := newFleet()
	pc, err := b.connect(ctx, func(pc paho.Client) {
		if err := f.subscribe(pc); err != nil {
			fmt.Fprintf(os.Stderr, "wardenctl watch: %v\n", err)
		}
	})
	if err != nil {
		return err
	}
	defer pc.Disconnect(100)
	// Redraw at most every 500ms on a terminal; "last seen" ages with time,
	// so redraw every few seconds even without news.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	dirty := map[string]bool{}
	lastDraw := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case app := <-f.changed:
			dirty[app] = true
		case <-tick.C:
			if len(dirty) == 0 && (!tty || time.Since(lastDraw) < 5*time.Second) {
				continue
			}
			f.mu.Lock()
			if tty {
				fmt.Fprint(out, "\x1b[H\x1b[2J") // home, clear screen
				_ = writeTable(out, f, time.Now())
			} else {
				for _, a := range f.sorted() {
					if dirty[a.ID] {
						fmt.Fprintln(out, rowLine(a, time.Now()))
					}
				}
			}
			f.mu.Unlock()
			clear(dirty)
			lastDraw = time.Now()
		}
	}
}

type row struct {
	id, state, session, lastSeen, cameras, flagged, uplink, firmware, policy string
}

func makeRow(a *appliance, now time.Time) row {
	r := row{id: a.ID, state: "unknown", session: "-", lastSeen: "-", uplink: "-", firmware: "-", policy: "-"}
	flagged := 0
	for _, d := range a.Devices {
		if d.Flagged {
			flagged++
		}
	}
	r.cameras, r.flagged = fmt.Sprint(len(a.Devices)), fmt.Sprint(flagged)
	if s := a.Status; s != nil {
		r.state = "offline"
		if s.Online {
			r.state = "online"
		}
		r.session = fmt.Sprint(s.Session)
		r.uplink = "ok"
		if s.UplinkCut {
			r.uplink = "CUT"
		}
		r.firmware = s.Firmware
		r.policy = fmt.Sprint(s.PolicyVersion)
	}
	if i := a.Info; i != nil {
		r.firmware, r.policy = i.Firmware, fmt.Sprint(i.PolicyVersion)
	}
	if !a.LastSeen.IsZero() {
		r.lastSeen = fmt.Sprintf("%s (%s ago)", a.LastSeen.UTC().Format(time.RFC3339), now.Sub(a.LastSeen).Truncate(time.Second))
	}
	return r
}

// writeTable prints the fleet (callers hold f.mu).
func writeTable(out io.Writer, f *fleet, now time.Time) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APPLIANCE\tSTATE\tSESSION\tLAST SEEN\tCAMERAS\tFLAGGED\tUPLINK\tFIRMWARE\tPOLICY")
	for _, a := range f.sorted() {
		r := makeRow(a, now)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.id, r.state, r.session, r.lastSeen, r.cameras, r.flagged,
			r.uplink, r.firmware, r.policy)
	}
	return tw.Flush()
}

func rowLine(a *appliance, now time.Time) string {
	r := makeRow(a, now)
	return fmt.Sprintf("%s appliance=%s state=%s session=%s cameras=%s flagged=%s uplink=%s firmware=%s policy=%s",
		now.UTC().Format(time.RFC3339), r.id, r.state, r.session, r.cameras, r.flagged, r.uplink, r.firmware, r.policy)
}

// watchStore is watch from the fleet store: the same table, read from the
// database every interval (live) or once.
func watchStore(ctx context.Context, db *dbFlags, filter fstore.Filter, out io.Writer, once, tty bool, every time.Duration) error {
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	prev := map[string]row{}
	for {
		apps, err := st.Appliances(ctx, filter)
		if err != nil {
			return err
		}
		now := time.Now()
		rows := make([]row, 0, len(apps))
		for _, a := range apps {
			rows = append(rows, storeRow(a, now))
		}
		switch {
		case once || tty:
			if tty && !once {
				fmt.Fprint(out, "\x1b[H\x1b[2J")
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "APPLIANCE\tSITE\tSTATE\tSESSION\tLAST SEEN\tCAMERAS\tFLAGGED\tREVIEW\tUPLINK\tFIRMWARE\tPOLICY")
			for i, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.id, apps[i].Site, r.state, r.session, r.lastSeen,
					r.cameras, r.flagged, apps[i].Review, r.uplink, r.firmware, r.policy)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		default:
			// A line per appliance whose state changed ("last seen" ageing
			// is not a change).
			for _, r := range rows {
				key := r
				key.lastSeen = ""
				if prev[r.id] != key {
					prev[r.id] = key
					fmt.Fprintf(out, "%s appliance=%s state=%s session=%s cameras=%s flagged=%s uplink=%s firmware=%s policy=%s\n",
						now.UTC().Format(time.RFC3339), r.id, r.state, r.session, r.cameras, r.flagged, r.uplink, r.firmware, r.policy)
				}
			}
		}
		if once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

func storeRow(a fstore.ApplianceRow, now time.Time) row {
	r := row{id: a.ID, state: "unknown", session: "-", lastSeen: "-", uplink: "-", firmware: "-", policy: "-",
		cameras: fmt.Sprint(a.Devices), flagged: fmt.Sprint(a.Flagged)}
	if a.HaveStatus {
		r.state, r.session, r.uplink = "offline", fmt.Sprint(a.Session), "ok"
		if a.Online {
			r.state = "online"
		}
		if a.UplinkCut {
			r.uplink = "CUT"
		}
	}
	if a.Firmware != "" {
		r.firmware, r.policy = a.Firmware, fmt.Sprint(a.PolicyVersion)
	}
	if !a.LastSeen.IsZero() {
		r.lastSeen = fmt.Sprintf("%s (%s ago)", a.LastSeen.UTC().Format(time.RFC3339), now.Sub(a.LastSeen).Truncate(time.Second))
	}
	return r
}
