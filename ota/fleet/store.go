package fleet

import (
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultSitePattern takes the site from an appliance id of the form
// {site}-{rest} ("site12-cam-a" is at "site12"); an id without a dash is
// its own site.
const DefaultSitePattern = `^([^-]+)-`

// lastSeenEvery throttles how often one process moves an appliance's
// last_seen: every message would otherwise update (and lock) the same row.
const lastSeenEvery = 5 * time.Second

// Store is the fleet database.
type Store struct {
	pool *pgxpool.Pool
	site *regexp.Regexp

	mu   sync.Mutex
	seen map[string]time.Time // appliance -> last_seen this process wrote
}

// Open connects to the database at dsn (a libpq URL or key=value string).
// sitePattern's first group names an appliance's site ("" = the default).
func Open(ctx context.Context, dsn, sitePattern string) (*Store, error) {
	if sitePattern == "" {
		sitePattern = DefaultSitePattern
	}
	re, err := regexp.Compile(sitePattern)
	if err != nil {
		return nil, fmt.Errorf("site pattern: %w", err)
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("site pattern %q: needs a (group)", sitePattern)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return &Store{pool: pool, site: re, seen: map[string]time.Time{}}, nil
}

// Close closes the connections.
func (s *Store) Close() { s.pool.Close() }

// Pool is the connection pool, for queries this package does not offer.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Site is the site of appliance id.
func (s *Store) Site(id string) string {
	if m := s.site.FindStringSubmatch(id); m != nil && m[1] != "" {
		return m[1]
	}
	return id
}

// Migrate brings the schema up to date. Several processes may call it at
// once: a Postgres advisory lock lets one of them migrate.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Permanent reports whether err is the database refusing this data (a
// value it cannot store, a constraint), as opposed to the database being
// unreachable, restarting or busy: retrying a permanent error cannot help.
func Permanent(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "54": // data exception, integrity, program limit
		return true
	}
	return false
}

// Apply stores msgs in one transaction. It is idempotent: applying a
// message again (a re-delivery) changes nothing.
//
// Statements run grouped by appliance in sorted order, the appliance's own
// row first, so two processes writing overlapping batches take their locks
// in the same order and cannot deadlock.
func (s *Store) Apply(ctx context.Context, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	rank := func(k Kind) int {
		if k == KindStatus || k == KindInfo {
			return 0
		}
		return 1
	}
	// Stable: reports on one device keep their arrival order (a forget
	// carries no seq to sort by).
	slices.SortStableFunc(order, func(a, b int) int {
		ma, mb := &msgs[a], &msgs[b]
		return cmp.Or(cmp.Compare(ma.Appliance, mb.Appliance), cmp.Compare(rank(ma.Kind), rank(mb.Kind)),
			cmp.Compare(ma.MAC, mb.MAC))
	})

	s.mu.Lock()
	newSeen := map[string]time.Time{}
	b := &pgx.Batch{}
	var ev eventRows
	var seenIDs []string
	var seenTS []time.Time
	for i, idx := range order {
		m := &msgs[idx]
		if i == 0 || msgs[order[i-1]].Appliance != m.Appliance {
			last, known := s.seen[m.Appliance]
			if !known {
				b.Queue(`INSERT INTO appliances (id, site) VALUES ($1, $2) ON CONFLICT DO NOTHING`, m.Appliance, s.Site(m.Appliance))
			}
			var newest time.Time
			for _, j := range order[i:] {
				n := &msgs[j]
				if n.Appliance != m.Appliance {
					break
				}
				if !n.Historical && n.Kind != KindForget && n.TS.After(newest) {
					newest = n.TS
				}
			}
			if !newest.IsZero() && (!known || newest.Sub(last) >= lastSeenEvery) {
				seenIDs, seenTS = append(seenIDs, m.Appliance), append(seenTS, newest)
				newSeen[m.Appliance] = newest
			} else if !known {
				newSeen[m.Appliance] = time.Time{}
			}
		}
		if err := queue(b, m, &ev); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Unlock()
	if len(ev.app) > 0 {
		// One statement for the batch's events: the stream is mostly
		// events, and a statement per row costs more than the row.
		b.Queue(`INSERT INTO events (appliance, seq, msg_id, type, ts, mac, historical, data)
			SELECT a, s, i, t, ts, m, h, d::jsonb FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[],
				$5::timestamptz[], $6::text[], $7::bool[], $8::text[]) AS u(a, s, i, t, ts, m, h, d)
			ON CONFLICT DO NOTHING`, ev.app, ev.seq, ev.id, ev.typ, ev.ts, ev.mac, ev.hist, ev.data)
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if len(seenIDs) > 0 {
		// last_seen moves after the commit, in a statement of its own:
		// inside the batch's transaction it would hold the appliance rows
		// that every process's batches touch, serialising them. It only
		// ever moves forward, and a failure here loses nothing the next
		// message will not set again.
		if _, err := s.pool.Exec(ctx, `UPDATE appliances a SET last_seen = v.ts
			FROM unnest($1::text[], $2::timestamptz[]) AS v(id, ts)
			WHERE a.id = v.id AND (a.last_seen IS NULL OR a.last_seen < v.ts)`, seenIDs, seenTS); err != nil {
			for _, id := range seenIDs {
				newSeen[id] = time.Time{} // known to exist, last_seen still to write
			}
		}
	}
	s.mu.Lock()
	for app, t := range newSeen {
		if old, ok := s.seen[app]; !ok || t.After(old) {
			s.seen[app] = t
		}
	}
	s.mu.Unlock()
	return nil
}

// eventRows are a batch's events as columns, for one INSERT ... unnest.
type eventRows struct {
	app, id, typ, mac []string
	seq               []int64
	ts                []time.Time
	hist              []bool
	data              []*string
}

func queue(b *pgx.Batch, m *Message, ev *eventRows) error {
	seq := int64(m.Seq) // Decode keeps seq below 2^62
	switch m.Kind {
	case KindStatus:
		p := m.Status
		b.Queue(`UPDATE appliances SET session = $2, status_seq = $3, online = $4, uplink_cut = $5, status_ts = $6, status = $7
			WHERE id = $1 AND (session IS NULL OR $2 > session
			   OR ($2 = session AND (NOT $4 OR (online AND $3 >= status_seq))))`,
			m.Appliance, int64(min(p.Session, 1<<62)), seq, p.Online, p.UplinkCut, m.TS, string(m.Raw))
		queueFirmware(b, m, p.Firmware, p.PolicyVersion)
	case KindInfo:
		queueFirmware(b, m, m.Info.Firmware, m.Info.PolicyVersion)
		b.Queue(`UPDATE appliances SET info = $2 WHERE id = $1 AND fw_seq = $3`, m.Appliance, string(m.Raw), seq)
	case KindDevice:
		d := m.Device.Device
		first := d.FirstSeen
		if first.IsZero() {
			first = m.TS
		}
		b.Queue(`SELECT fleet_device($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			m.Appliance, m.MAC, seq, m.TS, statusOf(d), d.Maker, d.Brand, d.Model, d.Flagged, d.Action,
			d.Confidence, first, string(m.Raw))
	case KindForget:
		b.Queue(`UPDATE devices SET forgotten_at = now() WHERE appliance = $1 AND mac = $2 AND forgotten_at IS NULL`, m.Appliance, m.MAC)
	case KindEvent:
		e := m.Event
		var data *string
		if e.Data != nil {
			raw, err := json.Marshal(e.Data)
			if err != nil {
				return err
			}
			d := string(raw)
			data = &d
		}
		ev.app, ev.seq, ev.id, ev.typ = append(ev.app, m.Appliance), append(ev.seq, seq), append(ev.id, m.MsgID), append(ev.typ, e.Type)
		ev.ts, ev.mac, ev.hist, ev.data = append(ev.ts, m.TS), append(ev.mac, e.MAC), append(ev.hist, e.Historical), append(ev.data, data)
		if e.Type == EvtAcknowledged {
			source, _ := e.Data["source"].(string)
			var since *time.Time
			if s, ok := e.Data["cut_since"].(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					since = &t
				}
			}
			b.Queue(`INSERT INTO acknowledgements (appliance, seq, ts, source, cut_since) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT DO NOTHING`, m.Appliance, seq, m.TS, source, since)
		}
	case KindPolicy:
		p := m.Policy
		b.Queue(`INSERT INTO policy_reports (appliance, seq, ts, status, applied_version, reason, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT DO NOTHING`, m.Appliance, seq, m.TS, string(p.Status), int64(min(p.AppliedVersion, 1<<62)), p.Reason, string(m.Raw))
	case KindOTA:
		p := m.OTA
		b.Queue(`INSERT INTO ota_reports (appliance, seq, ts, state, version, running, payload) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT DO NOTHING`, m.Appliance, seq, m.TS, p.State, p.Version, p.Running, string(m.Raw))
	default:
		return fmt.Errorf("fleet: message kind %d cannot be stored", m.Kind)
	}
	return nil
}

// queueFirmware moves the appliance's firmware and policy version when m is
// the newest message that carries them (status and info both do).
func queueFirmware(b *pgx.Batch, m *Message, firmware string, policyVersion uint64) {
	b.Queue(`UPDATE appliances SET firmware = $2, policy_version = $3, fw_seq = $4 WHERE id = $1 AND (fw_seq IS NULL OR fw_seq < $4)`,
		m.Appliance, firmware, int64(min(policyVersion, 1<<62)), int64(m.Seq))
}

// statusOf is the device's published status; reports from firmware older
// than the field get one from flagged and maker.
func statusOf(d Device) string {
	switch {
	case d.Status != "":
		return d.Status
	case d.Flagged:
		return StatusFlagged
	case d.Maker != "":
		return StatusClean
	}
	return StatusUnknown
}

// Reject keeps a message the database refused, so a person can look at it
// and the stream can move on.
func (s *Store) Reject(ctx context.Context, topic string, payload []byte, reason error) error {
	sum := sha256.Sum256(append([]byte(topic+"\x00"), payload...))
	_, err := s.pool.Exec(ctx, `INSERT INTO rejected (topic, payload, error, digest) VALUES ($1, $2, $3, $4)
		ON CONFLICT (digest) DO NOTHING`, topic, payload, reason.Error(), hex.EncodeToString(sum[:]))
	return err
}
