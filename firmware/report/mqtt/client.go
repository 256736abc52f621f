package mqtt

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/firmware/report"
	"github.com/camwarden/camwarden/firmware/report/wire"
)

// maxForgotten bounds the MACs whose retained clear waits for the link.
const maxForgotten = 10000

// Client is a report.Reporter over MQTT. It is safe for concurrent use.
type Client struct {
	opts   Options
	log    *slog.Logger
	tls    *tls.Config
	prefix string
	ob     *outbox

	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	// retMu serialises every retained publish (and the republish after a
	// reconnect), so an older state can never overtake a newer one.
	retMu sync.Mutex

	mu         sync.Mutex
	pc         paho.Client // nil while the link is down
	session    uint64      // session of the current (or last) connection
	changed    chan struct{}
	lastErr    error
	status     report.Status
	haveStatus bool
	infoKey    string
	devices    map[string]report.Device
	forgotten  map[string]struct{}
	subs       map[string]func(topic string, payload []byte)
}

var _ report.Reporter = (*Client)(nil)

// Dial validates opts, opens the outbox and starts connecting in the
// background with exponential backoff. It does not wait for the broker: an
// appliance must start, queue events and drive its LEDs while the broker is
// unreachable. Use WaitConnected to learn whether (or why not) the link is up.
// Close releases everything.
func Dial(opts Options) (*Client, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	tc, err := opts.TLSConfig()
	if err != nil {
		return nil, err
	}
	ob, err := openOutbox(opts.OutboxPath, opts.OutboxMaxEvents, opts.OutboxMaxAge, opts.Now)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts: opts, log: opts.Logger.With("broker", opts.Broker), // the caller's logger names the appliance
		tls: tc, prefix: TopicRoot + opts.ApplianceID + "/", ob: ob,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{}),
		devices: map[string]report.Device{}, forgotten: map[string]struct{}{},
		subs: map[string]func(string, []byte){},
	}
	go c.run()
	return c, nil
}

// Prefix is the appliance's topic root, camwarden/v1/{applianceId}/.
func (c *Client) Prefix() string { return c.prefix }

// Connected reports whether the link is up now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pc != nil
}

// Session is the session number of the current or last connection.
func (c *Client) Session() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// QueueLen returns the events waiting in the outbox and the events dropped
// (by the bounds) and not yet reported.
func (c *Client) QueueLen() (queued int, dropped uint64) { return c.ob.stats() }

// WaitConnected blocks until the link is up. It returns early with the
// attempt's error when that error cannot be cured by retrying (refused
// login, untrusted broker, refused client certificate; see the Err vars),
// and otherwise with ctx's error joined to the last attempt's.
func (c *Client) WaitConnected(ctx context.Context) error {
	for {
		c.mu.Lock()
		up, last, ch := c.pc != nil, c.lastErr, c.changed
		c.mu.Unlock()
		if up {
			return nil
		}
		if last != nil && permanent(last) {
			return last
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-c.done:
			return errors.New("mqtt: client closed")
		}
	}
}

// must hold c.mu
func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Client) run() {
	defer close(c.done)
	backoff := c.opts.ReconnectMin
	for c.ctx.Err() == nil {
		pc, session, lost, err := c.connect()
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.lastErr = err
			c.notifyLocked()
			c.mu.Unlock()
			c.log.Warn("mqtt: connect failed", "err", err, "retry_in", backoff)
			if err := c.ob.prune(); err != nil {
				c.log.Error("mqtt: outbox prune", "err", err)
			}
			// Full jitter in [backoff/2, backoff): a fleet that lost its
			// broker together must not return together.
			d := backoff/2 + rand.N(backoff/2+1)
			select {
			case <-time.After(d):
			case <-c.ctx.Done():
				return
			}
			backoff = min(backoff*2, c.opts.ReconnectMax)
			continue
		}
		backoff = c.opts.ReconnectMin
		c.serve(pc, session, lost)
		c.mu.Lock()
		c.pc = nil
		c.notifyLocked()
		c.mu.Unlock()
		if c.ctx.Err() != nil {
			c.goodbye(pc, session)
			return
		}
		pc.Disconnect(0)
		c.log.Warn("mqtt: connection lost; reconnecting")
	}
}

func (c *Client) statusPayload(session uint64, online bool) []byte {
	c.mu.Lock()
	s := c.status
	c.mu.Unlock()
	s.Online = online
	return c.marshal(StatusPayload{Header: c.header(SchemaStatus), Session: session, Status: s})
}

func (c *Client) header(schema string) Header {
	seq, err := c.ob.nextSeq()
	if err != nil {
		c.log.Error("mqtt: sequence", "err", err)
	}
	return Header{Schema: schema, Appliance: c.opts.ApplianceID, TS: c.opts.Now().UTC(), Seq: seq, MsgID: newMsgID()}
}

func (c *Client) marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only Event.Data can hold unmarshalable values, and Event checks
		// it; anything else is a programming error worth a loud log.
		c.log.Error("mqtt: encode payload", "err", err)
		return nil
	}
	return b
}

func (c *Client) connect() (paho.Client, uint64, chan struct{}, error) {
	session, err := c.ob.nextSession()
	if err != nil {
		return nil, 0, nil, err
	}
	lost := make(chan struct{})
	var lostOnce sync.Once
	po := paho.NewClientOptions().
		AddBroker(c.opts.Broker).
		SetClientID(c.opts.ClientID).
		SetUsername(c.opts.Username).
		SetPassword(c.opts.Password).
		SetProtocolVersion(4).
		SetCleanSession(true).
		// Reconnects are ours: each connection gets a new session number
		// in its will, which paho's options cannot change after NewClient.
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(c.opts.KeepAlive).
		SetPingTimeout(min(c.opts.KeepAlive, 10*time.Second)).
		SetConnectTimeout(c.opts.ConnectTimeout).
		SetWriteTimeout(c.opts.ConnectTimeout).
		SetBinaryWill(c.prefix+"status", c.statusPayload(session, false), 1, true).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			c.log.Warn("mqtt: link down", "err", err)
			lostOnce.Do(func() { close(lost) })
		})
	if c.tls != nil {
		po.SetTLSConfig(c.tls)
	}
	pc := paho.NewClient(po)
	tok := pc.Connect()
	select {
	case <-tok.Done():
	case <-c.ctx.Done():
		pc.Disconnect(0)
		return nil, 0, nil, c.ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, 0, nil, c.classify(c.ctx, err)
	}
	return pc, session, lost, nil
}

// serve announces the appliance on a fresh connection and then drains the
// outbox until the link drops or the client closes.
func (c *Client) serve(pc paho.Client, session uint64, lost chan struct{}) {
	c.retMu.Lock()
	c.mu.Lock()
	c.pc, c.session, c.lastErr = pc, session, nil
	devs := make([]report.Device, 0, len(c.devices))
	for _, d := range c.devices {
		devs = append(devs, d)
	}
	forgotten := make([]string, 0, len(c.forgotten))
	for m := range c.forgotten {
		forgotten = append(forgotten, m)
	}
	subs := make(map[string]func(string, []byte), len(c.subs))
	for k, v := range c.subs {
		subs[k] = v
	}
	c.notifyLocked()
	c.mu.Unlock()

	c.log.Info("mqtt: connected", "session", session)
	pc.Publish(c.prefix+"status", 1, true, c.statusPayload(session, true))
	c.publishInfo(pc, session, true)
	for _, d := range devs {
		pc.Publish(c.prefix+"devices/"+d.MAC, 1, true, c.marshal(DevicePayload{Header: c.header(SchemaDevice), Device: d}))
	}
	var clears []paho.Token
	for _, m := range forgotten {
		clears = append(clears, pc.Publish(c.prefix+"devices/"+m, 1, true, []byte{}))
	}
	c.retMu.Unlock()
	go func() {
		// Forget the pending clears once the broker has them.
		for i, t := range clears {
			if t.WaitTimeout(30*time.Second) && t.Error() == nil {
				c.mu.Lock()
				if _, still := c.forgotten[forgotten[i]]; still {
					if _, back := c.devices[forgotten[i]]; !back {
						delete(c.forgotten, forgotten[i])
					}
				}
				c.mu.Unlock()
			}
		}
	}()
	for suffix, h := range subs {
		if err := c.subscribe(pc, suffix, h); err != nil {
			c.log.Error("mqtt: resubscribe", "topic", c.topicFor(suffix), "err", err)
		}
	}
	c.drain(pc, session, lost)
}

func (c *Client) publishInfo(pc paho.Client, session uint64, force bool) {
	c.mu.Lock()
	s, have := c.status, c.haveStatus
	key := fmt.Sprintf("%s|%d|%s", s.Firmware, s.PolicyVersion, strings.Join(s.Interfaces, ","))
	changed := key != c.infoKey
	c.infoKey = key
	c.mu.Unlock()
	if !have || (!changed && !force) {
		return
	}
	pc.Publish(c.prefix+"info", 1, true, c.marshal(InfoPayload{Header: c.header(SchemaInfo), Session: session,
		Firmware: s.Firmware, PolicyVersion: s.PolicyVersion, Interfaces: s.Interfaces}))
}

// drain publishes queued events in seq order, keeping up to PublishWindow
// awaiting PUBACK (a sliding window: each acknowledgement frees a slot at
// once), and deletes them only once acknowledged, in order. The deletions
// are committed by a separate goroutine, so an fsync never stalls
// publishing. After a reconnect it starts again from the oldest
// unacknowledged event, so the broker may see a few duplicates (same
// msg_id) but never a reordering of first deliveries.
func (c *Client) drain(pc paho.Client, session uint64, lost chan struct{}) {
	type inflight struct {
		seq uint64
		tok paho.Token
	}
	acks := newAcker(c.ob, c.log)
	defer acks.close()
	var (
		after uint64     // the last seq published (or skipped)
		fl    []inflight // published, in seq order, awaiting PUBACK
	)
	for {
		// Fill the window.
		if room := c.opts.PublishWindow - len(fl); room > 0 {
			recs, err := c.ob.peek(after, room)
			if err != nil {
				c.log.Error("mqtt: outbox", "err", err)
				select {
				case <-time.After(time.Second):
					continue
				case <-lost:
					return
				case <-c.ctx.Done():
					return
				}
			}
			var bad []uint64
			for _, r := range recs {
				after = r.Seq
				if r.Event.Type == "" { // unreadable record
					bad = append(bad, r.Seq)
					continue
				}
				p := EventPayload{
					Header: Header{Schema: SchemaEvent, Appliance: c.opts.ApplianceID, TS: r.Event.Time.UTC(), Seq: r.Seq, MsgID: r.MsgID},
					Type:   r.Event.Type, MAC: r.Event.MAC, Data: r.Event.Data, Historical: r.Session != session,
				}
				fl = append(fl, inflight{r.Seq, pc.Publish(c.prefix+"evt/"+r.Event.Type, 1, false, c.marshal(p))})
			}
			if len(bad) > 0 {
				c.log.Error("mqtt: dropping unreadable outbox records", "count", len(bad))
				if len(fl) == 0 {
					acks.add(bad)
				} else {
					// Deleted once everything before them is acknowledged.
					for _, s := range bad {
						fl = append(fl, inflight{s, nil})
					}
				}
			}
			if len(recs) > 0 {
				c.log.Debug("drain", "first", recs[0].Seq, "last", after, "inflight", len(fl))
			}
		}
		if len(fl) == 0 {
			// The queue is empty: report what the bounds dropped while the
			// link was down. Reporting it now, after the replay, keeps the
			// report itself from pushing a queued event out of a full outbox.
			acks.flush()
			if _, dropped := c.ob.stats(); dropped > 0 {
				ev := report.Event{Type: EvtOutboxDropped, Time: c.opts.Now(), Data: map[string]any{"dropped": dropped}}
				if _, done, err := c.ob.append(ev, session, dropped); err != nil {
					c.log.Error("mqtt: report dropped events", "err", err)
				} else if err := <-done; err != nil {
					c.log.Error("mqtt: report dropped events", "err", err)
				} else {
					continue
				}
			}
			select {
			case <-c.ob.notify:
				continue
			case <-lost:
				return
			case <-c.ctx.Done():
				return
			}
		}
		// Wait for the oldest publish; new records may join the window
		// meanwhile when it has room.
		var more <-chan struct{}
		if len(fl) < c.opts.PublishWindow {
			more = c.ob.notify
		}
		head := fl[0].tok
		if head != nil {
			select {
			case <-head.Done():
			case <-more:
				continue
			case <-lost:
			case <-c.ctx.Done():
			}
		}
		// Retire every acknowledged publish at the front, in order.
		var done []uint64
		for len(fl) > 0 && (fl[0].tok == nil || tokenDone(fl[0].tok)) {
			if t := fl[0].tok; t != nil && t.Error() != nil {
				acks.add(done)
				c.log.Warn("mqtt: event publish failed", "seq", fl[0].seq, "err", t.Error())
				pc.Disconnect(0)
				return
			}
			done = append(done, fl[0].seq)
			fl = fl[1:]
		}
		acks.add(done)
		if len(done) == 0 {
			// The link is going or gone: what was acknowledged is being
			// deleted; the rest is resent on the next connection.
			return
		}
	}
}

// acker deletes acknowledged outbox records in the background, merging
// whatever piled up during one commit into the next.
type acker struct {
	ob   *outbox
	log  *slog.Logger
	mu   sync.Mutex
	seqs []uint64
	kick chan struct{} // capacity 1
	stop chan struct{}
	done chan struct{}
	want chan chan struct{}
}

func newAcker(ob *outbox, log *slog.Logger) *acker {
	a := &acker{ob: ob, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), want: make(chan chan struct{})}
	go a.run()
	return a
}

func (a *acker) add(seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	a.mu.Lock()
	a.seqs = append(a.seqs, seqs...)
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *acker) commit() {
	a.mu.Lock()
	seqs := a.seqs
	a.seqs = nil
	a.mu.Unlock()
	if err := a.ob.ack(seqs); err != nil {
		a.log.Error("mqtt: outbox", "err", err)
	}
}

func (a *acker) run() {
	defer close(a.done)
	for {
		select {
		case <-a.kick:
			a.commit()
		case w := <-a.want:
			a.commit()
			close(w)
		case <-a.stop:
			a.commit()
			return
		}
	}
}

// flush returns once everything added so far is deleted (or failed).
func (a *acker) flush() {
	w := make(chan struct{})
	a.want <- w
	<-w
}

// close commits what is left and stops.
func (a *acker) close() {
	close(a.stop)
	<-a.done
}

func (c *Client) goodbye(pc paho.Client, session uint64) {
	// A clean disconnect suppresses the will, so say offline ourselves.
	c.retMu.Lock()
	tok := pc.Publish(c.prefix+"status", 1, true, c.statusPayload(session, false))
	c.retMu.Unlock()
	if !tok.WaitTimeout(2*time.Second) || tok.Error() != nil {
		c.log.Warn("mqtt: offline status not acknowledged", "err", tok.Error())
	}
	pc.Disconnect(250)
	c.log.Info("mqtt: disconnected", "session", session)
}

// tokenDone reports completion without waiting (paho's WaitTimeout(0)
// races its timer against completion).
func tokenDone(t paho.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

func waitToken(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func normMAC(mac string) (string, error) {
	m := strings.ToLower(mac)
	if !validTopicLevel(m) || len(m) > 64 {
		return "", fmt.Errorf("mqtt: device MAC %q cannot be a topic level", mac)
	}
	return m, nil
}

// Device publishes d retained on devices/{mac} (QoS 1) and remembers it, so
// it is republished on every reconnect. While the link is down it only
// remembers. It waits for PUBACK (or ctx) when connected.
func (c *Client) Device(ctx context.Context, d report.Device) error {
	mac, tok, err := c.publishDevice(d)
	if err != nil || tok == nil {
		return err
	}
	if err := waitToken(ctx, tok); err != nil {
		return fmt.Errorf("mqtt: publish device %s: %w", mac, err)
	}
	// A failed publish means the link dropped; the reconnect republishes.
	return nil
}

// QueueDevice is Device without the wait for PUBACK (report.Queuer): the
// state is remembered before the publish starts, and a publish lost with
// the link is repeated by the reconnect, so waiting buys the caller only a
// broker round trip per device.
func (c *Client) QueueDevice(d report.Device) error {
	_, _, err := c.publishDevice(d)
	return err
}

// QueueEvent is Enqueue behind the report.Queuer interface.
func (c *Client) QueueEvent(e report.Event) report.Pending { return c.Enqueue(e) }

var _ report.Queuer = (*Client)(nil)

// publishDevice remembers d and starts its publish when connected (tok nil
// when the link is down).
func (c *Client) publishDevice(d report.Device) (string, paho.Token, error) {
	mac, err := normMAC(wire.DeviceTopicLevel(d.Key()))
	if err != nil {
		return "", nil, err
	}
	if d.ID == "" {
		d.MAC = mac
	}
	c.retMu.Lock()
	c.mu.Lock()
	c.devices[mac] = d
	delete(c.forgotten, mac)
	pc := c.pc
	c.mu.Unlock()
	var tok paho.Token
	if pc != nil {
		tok = pc.Publish(c.prefix+"devices/"+mac, 1, true, c.marshal(DevicePayload{Header: c.header(SchemaDevice), Device: d}))
	}
	c.retMu.Unlock()
	return mac, tok, nil
}

// Forget clears devices/{mac} with an empty retained message (now, or on the
// next connection if the link is down).
func (c *Client) Forget(ctx context.Context, mac string) error {
	mac, err := normMAC(wire.DeviceTopicLevel(mac))
	if err != nil {
		return err
	}
	c.retMu.Lock()
	c.mu.Lock()
	delete(c.devices, mac)
	if len(c.forgotten) < maxForgotten {
		c.forgotten[mac] = struct{}{}
	}
	pc := c.pc
	c.mu.Unlock()
	var tok paho.Token
	if pc != nil {
		tok = pc.Publish(c.prefix+"devices/"+mac, 1, true, []byte{})
	}
	c.retMu.Unlock()
	if tok == nil {
		return nil
	}
	if err := waitToken(ctx, tok); err != nil {
		return fmt.Errorf("mqtt: clear device %s: %w", mac, err)
	}
	if tok.Error() == nil {
		c.mu.Lock()
		if _, back := c.devices[mac]; !back {
			delete(c.forgotten, mac)
		}
		c.mu.Unlock()
	}
	return nil
}

// Event queues e durably (fsynced, group-committed with concurrent callers)
// and returns; the publisher sends it on evt/{type} at QoS 1 in seq order and
// deletes it after PUBACK. A nil return means the event survives a broker
// outage and a power cut. e.Time defaults to now.
func (c *Client) Event(ctx context.Context, e report.Event) error {
	if !validTopicLevel(e.Type) {
		return fmt.Errorf("mqtt: event type %q cannot be a topic level", e.Type)
	}
	if e.Time.IsZero() {
		e.Time = c.opts.Now()
	}
	if _, err := json.Marshal(e.Data); err != nil {
		return fmt.Errorf("mqtt: event %s: data: %w", e.Type, err)
	}
	rec, done, err := c.ob.append(e, c.Session(), 0)
	if err != nil {
		return fmt.Errorf("mqtt: queue event %s: %w", e.Type, err)
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("mqtt: queue event %s seq %d: %w", e.Type, rec.Seq, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt: queue event %s seq %d: %w", e.Type, rec.Seq, ctx.Err())
	}
}

// Status publishes s retained on status (online, with the current session)
// and, when firmware, policy version or interfaces changed, on info. The
// last status is remembered and republished on every reconnect.
func (c *Client) Status(ctx context.Context, s report.Status) error {
	c.retMu.Lock()
	c.mu.Lock()
	c.status, c.haveStatus = s, true
	pc, session := c.pc, c.session
	c.mu.Unlock()
	var tok paho.Token
	if pc != nil {
		tok = pc.Publish(c.prefix+"status", 1, true, c.statusPayload(session, true))
		c.publishInfo(pc, session, false)
	}
	c.retMu.Unlock()
	if tok == nil {
		return nil
	}
	if err := waitToken(ctx, tok); err != nil {
		return fmt.Errorf("mqtt: publish status: %w", err)
	}
	return nil
}

// Telemetry publishes data on tele at QoS 0. Telemetry is not queued: it
// returns ErrNotConnected while the link is down.
func (c *Client) Telemetry(_ context.Context, data any) error {
	c.mu.Lock()
	pc := c.pc
	c.mu.Unlock()
	if pc == nil {
		return ErrNotConnected
	}
	b, err := json.Marshal(TelePayload{Header: c.header(SchemaTele), Data: data})
	if err != nil {
		return fmt.Errorf("mqtt: telemetry: %w", err)
	}
	pc.Publish(c.prefix+"tele", 0, false, b)
	return nil
}

// Subscribe registers handler for camwarden/v1/{applianceId}/{topicSuffix}
// (QoS 1; MQTT wildcards allowed in the suffix, e.g. "cmd/+"). The
// subscription is made now if connected and again after every reconnect.
// Payloads above MaxPayload are dropped before the handler. Handlers run on
// the client's delivery goroutine in arrival order: they must return quickly.
// A later Subscribe with the same suffix replaces the handler. The returned
// error is the broker's refusal of the immediate subscription, if any.
func (c *Client) Subscribe(topicSuffix string, handler func(topic string, payload []byte)) error {
	if topicSuffix == "" || strings.HasPrefix(topicSuffix, "/") || len(topicSuffix) > 256 || handler == nil {
		return fmt.Errorf("mqtt: subscribe %q: need a relative topic suffix and a handler", topicSuffix)
	}
	c.mu.Lock()
	c.subs[topicSuffix] = handler
	pc := c.pc
	c.mu.Unlock()
	if pc == nil {
		return nil
	}
	return c.subscribe(pc, topicSuffix, handler)
}

func (c *Client) subscribe(pc paho.Client, suffix string, h func(string, []byte)) error {
	topic := c.topicFor(suffix)
	tok := pc.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		if len(m.Payload()) > MaxPayload {
			c.log.Warn("mqtt: dropped oversized message", "topic", m.Topic(), "bytes", len(m.Payload()))
			return
		}
		h(m.Topic(), m.Payload())
	})
	if !tok.WaitTimeout(c.opts.ConnectTimeout) {
		return fmt.Errorf("mqtt: subscribe %s: no SUBACK within %s", topic, c.opts.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: subscribe %s: %w", topic, err)
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		if q, ok := st.Result()[topic]; ok && q == 0x80 {
			return fmt.Errorf("mqtt: subscribe %s: refused by the broker (ACL)", topic)
		}
	}
	return nil
}

// Close publishes offline status, disconnects cleanly (so no will is sent),
// and closes the outbox. Queued events stay on disk for the next start.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
		c.closeErr = c.ob.close()
	})
	return c.closeErr
}
