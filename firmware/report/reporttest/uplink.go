package reporttest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/camwarden/camwarden/firmware/report/wire"
)

// Uplink is an in-memory broker link (app.Uplink) for one appliance: it
// records what the appliance publishes and lets a test deliver down-link
// messages to the handlers the appliance subscribed. Safe for concurrent use.
type Uplink struct {
	Recorder
	ApplianceID string

	mu        sync.Mutex
	subs      map[string]func(topic string, payload []byte) // full topic filter -> handler
	published []Message
	tele      []any
	seq       uint64
	down      bool
}

// Message is one publish the appliance made.
type Message struct {
	Topic    string // full topic
	Payload  []byte
	Retained bool
}

func (u *Uplink) prefix() string { return wire.TopicRoot + u.ApplianceID + "/" }

// Publish records a publish on camwarden/v1/{appliance}/{topicSuffix}.
func (u *Uplink) Publish(topicSuffix string, payload []byte, retained bool) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down {
		return fmt.Errorf("reporttest: link down")
	}
	u.published = append(u.published, Message{Topic: u.prefix() + topicSuffix, Payload: append([]byte(nil), payload...), Retained: retained})
	return nil
}

// Subscribe registers handler for camwarden/v1/{appliance}/{topicSuffix}.
func (u *Uplink) Subscribe(topicSuffix string, handler func(topic string, payload []byte)) error {
	return u.sub(u.prefix()+topicSuffix, handler)
}

// SubscribeFleet registers handler for camwarden/v1/fleet/{topicSuffix}.
func (u *Uplink) SubscribeFleet(topicSuffix string, handler func(topic string, payload []byte)) error {
	return u.sub(wire.FleetTopic+topicSuffix, handler)
}

func (u *Uplink) sub(filter string, h func(string, []byte)) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.subs == nil {
		u.subs = map[string]func(string, []byte){}
	}
	u.subs[filter] = h
	return nil
}

// NewHeader stamps a header with an increasing seq.
func (u *Uplink) NewHeader(schema string) wire.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seq++
	return wire.Header{Schema: schema, Appliance: u.ApplianceID, TS: time.Now().UTC(), Seq: u.seq,
		MsgID: fmt.Sprintf("test-%d", u.seq)}
}

// Connected is true unless SetDown(true).
func (u *Uplink) Connected() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return !u.down
}

// SetDown takes the link down (publishes fail, telemetry is refused).
func (u *Uplink) SetDown(down bool) {
	u.mu.Lock()
	u.down = down
	u.mu.Unlock()
}

// Telemetry records data.
func (u *Uplink) Telemetry(_ context.Context, data any) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down {
		return fmt.Errorf("reporttest: link down")
	}
	u.tele = append(u.tele, data)
	return nil
}

// Deliver hands payload on topic to the handler whose filter matches it
// (MQTT + and # wildcards), as the broker would; it reports whether one did.
func (u *Uplink) Deliver(topic string, payload []byte) bool {
	u.mu.Lock()
	var h func(string, []byte)
	for f, fh := range u.subs {
		if Match(f, topic) {
			h = fh
			break
		}
	}
	u.mu.Unlock()
	if h == nil {
		return false
	}
	h(topic, payload)
	return true
}

// Published returns the publishes made on topics ending in suffix.
func (u *Uplink) Published(suffix string) []Message {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []Message
	for _, m := range u.published {
		if strings.HasSuffix(m.Topic, suffix) {
			out = append(out, m)
		}
	}
	return out
}

// Tele returns the telemetry published so far.
func (u *Uplink) Tele() []any {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]any(nil), u.tele...)
}

// Subscribed lists the topic filters subscribed.
func (u *Uplink) Subscribed() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for f := range u.subs {
		out = append(out, f)
	}
	return out
}

// Match reports whether an MQTT topic filter matches topic.
func Match(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, p := range f {
		if p == "#" {
			return true
		}
		if i >= len(t) || (p != "+" && p != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}
