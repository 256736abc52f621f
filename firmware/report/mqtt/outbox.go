package mqtt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/camwarden/camwarden/firmware/report"
)

var (
	bucketEvents = []byte("events")
	bucketMeta   = []byte("meta")
	keySession   = []byte("session")
	keySeqHi     = []byte("seq_hi")
	keyDropped   = []byte("dropped")
)

// seqLease is how many sequence numbers one durable write reserves: seq must
// grow across restarts, and writing the counter for every retained message
// would cost an fsync each.
const seqLease = 1024

// errOutboxClosed is returned for appends after Close.
var errOutboxClosed = errors.New("mqtt: outbox closed")

// record is one queued event as stored: the original header travels with it
// so a replay carries the original ts, seq and msg_id.
type record struct {
	Seq     uint64       `json:"seq"`
	MsgID   string       `json:"msg_id"`
	Session uint64       `json:"session"` // connection session current when queued
	Event   report.Event `json:"event"`
}

type appendReq struct {
	rec          record
	resetDropped uint64 // subtract from the dropped counter in the same transaction
	done         chan error
}

// outbox is the durable event queue. Appends from any number of goroutines
// are committed by one writer goroutine, which gathers whatever arrived while
// the previous commit was syncing into the next transaction (group commit):
// one fsync serves many writers.
type outbox struct {
	db       *bolt.DB
	maxCount int
	maxAge   time.Duration
	now      func() time.Time

	seqMu sync.Mutex // orders seq allocation with the hand-off to the writer
	seq   uint64     // next seq to hand out
	seqHi uint64     // first seq not covered by the durable lease
	reqs  chan *appendReq

	mu      sync.Mutex
	count   int    // records in the bucket
	dropped uint64 // mirror of meta/dropped
	closed  bool

	notify chan struct{} // capacity 1: "records were added"
	quit   chan struct{}
	done   chan struct{}
}

func openOutbox(path string, maxCount int, maxAge time.Duration, now func() time.Time) (*outbox, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("mqtt: open outbox %s: %w", path, err)
	}
	o := &outbox{db: db, maxCount: maxCount, maxAge: maxAge, now: now,
		reqs: make(chan *appendReq, 1024), notify: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	err = db.Update(func(tx *bolt.Tx) error {
		ev, err := tx.CreateBucketIfNotExists(bucketEvents)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		o.count = ev.Stats().KeyN
		o.dropped = getU64(meta, keyDropped)
		// Skip the rest of the previous lease: numbers handed out before a
		// crash may already be on the wire.
		o.seq = getU64(meta, keySeqHi) + 1
		if last, _ := ev.Cursor().Last(); last != nil && binary.BigEndian.Uint64(last) >= o.seq {
			o.seq = binary.BigEndian.Uint64(last) + 1
		}
		o.seqHi = o.seq + seqLease
		return putU64(meta, keySeqHi, o.seqHi)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("mqtt: init outbox %s: %w", path, err)
	}
	go o.writer()
	return o, nil
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putU64(b *bolt.Bucket, k []byte, v uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return b.Put(k, buf[:])
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// nextSeq hands out the next sequence number, renewing the durable lease
// when it runs out. Callers that need seq order to match commit order hold
// seqMu across nextSeqLocked and the hand-off.
func (o *outbox) nextSeq() (uint64, error) {
	o.seqMu.Lock()
	defer o.seqMu.Unlock()
	return o.nextSeqLocked()
}

func (o *outbox) nextSeqLocked() (uint64, error) {
	if o.seq >= o.seqHi {
		hi := o.seq + seqLease
		err := o.db.Update(func(tx *bolt.Tx) error { return putU64(tx.Bucket(bucketMeta), keySeqHi, hi) })
		if err != nil {
			return 0, fmt.Errorf("mqtt: outbox: renew seq lease: %w", err)
		}
		o.seqHi = hi
	}
	s := o.seq
	o.seq++
	return s, nil
}

// nextSession durably increments and returns the connection session counter.
func (o *outbox) nextSession() (uint64, error) {
	var s uint64
	err := o.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		s = getU64(m, keySession) + 1
		return putU64(m, keySession, s)
	})
	if err != nil {
		return 0, fmt.Errorf("mqtt: outbox: next session: %w", err)
	}
	return s, nil
}

// append queues ev durably: it returns nil only after the record is fsynced.
// resetDropped is subtracted from the dropped counter in the same commit (the
// outbox_dropped report replaces the count it carries).
func (o *outbox) append(ev report.Event, session, resetDropped uint64) (record, <-chan error, error) {
	req := &appendReq{done: make(chan error, 1), resetDropped: resetDropped}
	o.seqMu.Lock()
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	if closed {
		o.seqMu.Unlock()
		return record{}, nil, errOutboxClosed
	}
	seq, err := o.nextSeqLocked()
	if err != nil {
		o.seqMu.Unlock()
		return record{}, nil, err
	}
	req.rec = record{Seq: seq, MsgID: newMsgID(), Session: session, Event: ev}
	o.reqs <- req // under seqMu, so the writer sees requests in seq order
	o.seqMu.Unlock()
	return req.rec, req.done, nil
}

func (o *outbox) writer() {
	defer close(o.done)
	// A batch as large as the hand-off channel: a burst enqueued without
	// waiting lands in one or two commits rather than four.
	batch := make([]*appendReq, 0, cap(o.reqs))
	for {
		select {
		case r := <-o.reqs:
			batch = append(batch[:0], r)
		more:
			for len(batch) < cap(batch) {
				select {
				case r := <-o.reqs:
					batch = append(batch, r)
				default:
					break more
				}
			}
			o.commit(batch)
		case <-o.quit:
			// Commit what was already handed over; append refuses new work.
			for {
				select {
				case r := <-o.reqs:
					o.commit([]*appendReq{r})
				default:
					return
				}
			}
		}
	}
}

func (o *outbox) commit(batch []*appendReq) {
	var added, removed int
	var dropped uint64
	o.mu.Lock()
	count := o.count
	o.mu.Unlock()
	err := o.db.Update(func(tx *bolt.Tx) error {
		// The counter is read inside the transaction: transactions are
		// serialised, so prune and commit cannot lose each other's counts.
		added, removed, dropped = 0, 0, getU64(tx.Bucket(bucketMeta), keyDropped)
		ev := tx.Bucket(bucketEvents)
		for _, r := range batch {
			v, err := encodeRecord(r.rec)
			if err != nil {
				return err
			}
			if err := ev.Put(seqKey(r.rec.Seq), v); err != nil {
				return err
			}
			added++
			dropped -= min(dropped, r.resetDropped)
		}
		n, err := o.pruneTx(ev, count+added)
		if err != nil {
			return err
		}
		removed = n
		dropped += uint64(n)
		return putU64(tx.Bucket(bucketMeta), keyDropped, dropped)
	})
	if err == nil {
		o.mu.Lock()
		o.count += added - removed
		o.dropped = dropped
		o.mu.Unlock()
		select {
		case o.notify <- struct{}{}:
		default:
		}
	} else {
		err = fmt.Errorf("mqtt: outbox: commit %d events: %w", len(batch), err)
	}
	for _, r := range batch {
		r.done <- err
	}
}

// pruneTx drops the oldest records beyond the count bound and any older than
// the age bound. It returns how many it removed.
func (o *outbox) pruneTx(ev *bolt.Bucket, count int) (int, error) {
	removed := 0
	cutoff := o.now().Add(-o.maxAge)
	c := ev.Cursor()
	for k, v := c.First(); k != nil; k, v = c.First() {
		over := count-removed > o.maxCount
		if !over {
			ts, ok := recordTime(v)
			if !ok || !ts.Before(cutoff) {
				break
			}
		}
		if err := c.Delete(); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// prune applies the bounds without adding anything (called periodically
// while the link is down, so old events age out on time).
func (o *outbox) prune() error {
	var removed int
	var dropped uint64
	o.mu.Lock()
	count := o.count
	o.mu.Unlock()
	err := o.db.Update(func(tx *bolt.Tx) error {
		n, err := o.pruneTx(tx.Bucket(bucketEvents), count)
		removed = n
		if err != nil || n == 0 {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		dropped = getU64(meta, keyDropped) + uint64(n)
		return putU64(meta, keyDropped, dropped)
	})
	if err != nil {
		return fmt.Errorf("mqtt: outbox: prune: %w", err)
	}
	if removed > 0 {
		o.mu.Lock()
		o.count -= removed
		o.dropped = dropped
		o.mu.Unlock()
	}
	return nil
}

// A stored value is the event time (8 bytes, Unix nanoseconds) followed by
// the JSON record, so ageing reads no JSON.
func encodeRecord(r record) ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode event %q: %w", r.Event.Type, err)
	}
	v := make([]byte, 8+len(js))
	binary.BigEndian.PutUint64(v, uint64(r.Event.Time.UnixNano()))
	copy(v[8:], js)
	return v, nil
}

func recordTime(v []byte) (time.Time, bool) {
	if len(v) < 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
}

// peek returns up to n records with seq > after, in seq order.
func (o *outbox) peek(after uint64, n int) ([]record, error) {
	var out []record
	err := o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < n; k, v = c.Next() {
			var r record
			if len(v) < 8 || json.Unmarshal(v[8:], &r) != nil {
				// A record we cannot read can never be sent; skip it
				// rather than wedge the queue (ack will delete it).
				r = record{Seq: binary.BigEndian.Uint64(k)}
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mqtt: outbox: read: %w", err)
	}
	return out, nil
}

// ack deletes delivered records in one transaction.
func (o *outbox) ack(seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	var removed int
	err := o.db.Update(func(tx *bolt.Tx) error {
		removed = 0
		b := tx.Bucket(bucketEvents)
		for _, s := range seqs {
			k := seqKey(s)
			if b.Get(k) == nil {
				continue // already pruned
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mqtt: outbox: ack %d events: %w", len(seqs), err)
	}
	o.mu.Lock()
	o.count -= removed
	o.mu.Unlock()
	return nil
}

func (o *outbox) stats() (count int, dropped uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count, o.dropped
}

func (o *outbox) close() error {
	o.seqMu.Lock()
	o.mu.Lock()
	already := o.closed
	o.closed = true
	o.mu.Unlock()
	o.seqMu.Unlock()
	if already {
		return nil
	}
	close(o.quit)
	<-o.done
	if err := o.db.Close(); err != nil {
		return fmt.Errorf("mqtt: close outbox: %w", err)
	}
	return nil
}
