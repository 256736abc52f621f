package fleet

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// SiteFunc returns the function that names an appliance's site from its id
// by pattern's first group ("" = DefaultSitePattern).
func SiteFunc(pattern string) (func(string) string, error) {
	if pattern == "" {
		pattern = DefaultSitePattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil || re.NumSubexp() < 1 {
		return nil, fmt.Errorf("site pattern %q: want a regular expression with a (group)", pattern)
	}
	return func(id string) string {
		if m := re.FindStringSubmatch(id); m != nil && m[1] != "" {
			return m[1]
		}
		return id
	}, nil
}

// Filter selects devices (and the appliances that hold them). Empty lists
// and zero times match everything.
type Filter struct {
	Sites, Appliances, Statuses, Makers []string
	// FirstSeenFrom and FirstSeenTo bound the device's first sighting
	// (from inclusive, to exclusive).
	FirstSeenFrom, FirstSeenTo time.Time
	// Forgotten includes devices their appliance has forgotten.
	Forgotten bool
}

// Match applies the filter in memory (wardenctl without a database).
func (f Filter) Match(site, appliance string, d Device) bool {
	in := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if strings.EqualFold(x, v) {
				return true
			}
		}
		return false
	}
	first := d.FirstSeen
	return in(f.Sites, site) && in(f.Appliances, appliance) && in(f.Statuses, statusOf(d)) && in(f.Makers, d.Maker) &&
		(f.FirstSeenFrom.IsZero() || !first.Before(f.FirstSeenFrom)) && (f.FirstSeenTo.IsZero() || first.Before(f.FirstSeenTo))
}

func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	lower := func(xs []string) []string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = strings.ToLower(x)
		}
		return out
	}
	if len(f.Sites) > 0 {
		add("lower(a.site) = ANY($%d)", lower(f.Sites))
	}
	if len(f.Appliances) > 0 {
		add("d.appliance = ANY($%d)", f.Appliances)
	}
	if len(f.Statuses) > 0 {
		add("d.status = ANY($%d)", lower(f.Statuses))
	}
	if len(f.Makers) > 0 {
		add("lower(d.maker) = ANY($%d)", lower(f.Makers))
	}
	if !f.FirstSeenFrom.IsZero() {
		add("d.first_seen >= $%d", f.FirstSeenFrom)
	}
	if !f.FirstSeenTo.IsZero() {
		add("d.first_seen < $%d", f.FirstSeenTo)
	}
	if !f.Forgotten {
		conds = append(conds, "d.forgotten_at IS NULL")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// DeviceRow is one stored device.
type DeviceRow struct {
	Appliance, Site string
	Record          DeviceRecord
	Status          string // as stored (filled in for old firmware)
	ReportedAt      time.Time
	FirstSeen       time.Time
	Forgotten       bool
}

// Devices calls fn for every device the filter selects, ordered by
// appliance and MAC, streaming (50,000 devices are not held at once).
func (s *Store) Devices(ctx context.Context, f Filter, fn func(DeviceRow) error) error {
	where, args := f.where()
	rows, err := s.pool.Query(ctx, `SELECT d.appliance, a.site, d.status, d.reported_at, d.first_seen,
		d.forgotten_at IS NOT NULL, d.payload::text FROM devices d JOIN appliances a ON a.id = d.appliance`+where+
		` ORDER BY d.appliance, d.mac`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r DeviceRow
	var payload string
	for rows.Next() {
		if err := rows.Scan(&r.Appliance, &r.Site, &r.Status, &r.ReportedAt, &r.FirstSeen, &r.Forgotten, &payload); err != nil {
			return err
		}
		rec, err := DecodeDeviceRecord([]byte(payload))
		if err != nil {
			return fmt.Errorf("device %s on %s: %w", r.Record.MAC, r.Appliance, err)
		}
		r.Record = rec
		r.Record.Status = r.Status
		if r.Record.FirstSeen.IsZero() {
			r.Record.FirstSeen = r.FirstSeen
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ApplianceRow is one appliance with its device counts.
type ApplianceRow struct {
	ID, Site                      string
	Online, UplinkCut, HaveStatus bool
	Session                       int64
	LastSeen                      time.Time
	Firmware                      string
	PolicyVersion                 int64
	Devices, Flagged, Review      int
}

// Appliances lists the appliances the filter's site and appliance lists
// select, with counts of their current (not forgotten) devices.
func (s *Store) Appliances(ctx context.Context, f Filter) ([]ApplianceRow, error) {
	var conds []string
	var args []any
	if len(f.Sites) > 0 {
		args = append(args, f.Sites)
		conds = append(conds, fmt.Sprintf("a.site = ANY($%d)", len(args)))
	}
	if len(f.Appliances) > 0 {
		args = append(args, f.Appliances)
		conds = append(conds, fmt.Sprintf("a.id = ANY($%d)", len(args)))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := s.pool.Query(ctx, `SELECT a.id, a.site, coalesce(a.online, false), coalesce(a.uplink_cut, false),
		a.session IS NOT NULL, coalesce(a.session, 0), coalesce(a.last_seen, 'epoch'), coalesce(a.firmware, ''),
		coalesce(a.policy_version, 0),
		count(d.mac) FILTER (WHERE d.forgotten_at IS NULL),
		count(d.mac) FILTER (WHERE d.forgotten_at IS NULL AND d.status = 'flagged'),
		count(d.mac) FILTER (WHERE d.forgotten_at IS NULL AND d.status = 'review')
		FROM appliances a LEFT JOIN devices d ON d.appliance = a.id`+where+` GROUP BY a.id ORDER BY a.id`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ApplianceRow, error) {
		var a ApplianceRow
		err := r.Scan(&a.ID, &a.Site, &a.Online, &a.UplinkCut, &a.HaveStatus, &a.Session, &a.LastSeen, &a.Firmware,
			&a.PolicyVersion, &a.Devices, &a.Flagged, &a.Review)
		if a.LastSeen.Equal(time.Unix(0, 0)) {
			a.LastSeen = time.Time{}
		}
		return a, err
	})
}

// EventRow is one stored event.
type EventRow struct {
	Appliance, Type, MAC string
	Seq                  int64
	TS                   time.Time
	Data                 map[string]any
}

// Events lists the events of the given types (all when none) at or after
// since, of the appliances the filter's site and appliance lists select,
// oldest first, at most limit of them.
func (s *Store) Events(ctx context.Context, f Filter, types []string, since time.Time, limit int) ([]EventRow, error) {
	args := []any{since, limit}
	conds := []string{"e.ts >= $1"}
	if len(types) > 0 {
		args = append(args, types)
		conds = append(conds, fmt.Sprintf("e.type = ANY($%d)", len(args)))
	}
	if len(f.Sites) > 0 {
		args = append(args, f.Sites)
		conds = append(conds, fmt.Sprintf("a.site = ANY($%d)", len(args)))
	}
	if len(f.Appliances) > 0 {
		args = append(args, f.Appliances)
		conds = append(conds, fmt.Sprintf("e.appliance = ANY($%d)", len(args)))
	}
	rows, err := s.pool.Query(ctx, `SELECT e.appliance, e.type, e.mac, e.seq, e.ts, e.data FROM events e
		JOIN appliances a ON a.id = e.appliance WHERE `+strings.Join(conds, " AND ")+` ORDER BY e.ts, e.appliance, e.seq LIMIT $2`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (EventRow, error) {
		var e EventRow
		err := r.Scan(&e.Appliance, &e.Type, &e.MAC, &e.Seq, &e.TS, &e.Data)
		return e, err
	})
}
