package mqtt

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/firmware/report/mqtt/mosquittotest"
)

type msg struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// collector is an independent subscriber (the admin user) recording
// everything under a filter.
type collector struct {
	t    testing.TB
	pc   paho.Client
	mu   sync.Mutex
	msgs []msg
	ch   chan struct{}
}

func newCollector(t testing.TB, b *mosquittotest.Broker, filter, clientID string, clean bool) *collector {
	t.Helper()
	c := &collector{t: t, ch: make(chan struct{}, 1)}
	h := func(_ paho.Client, m paho.Message) {
		c.mu.Lock()
		c.msgs = append(c.msgs, msg{m.Topic(), append([]byte(nil), m.Payload()...), m.Retained()})
		c.mu.Unlock()
		select {
		case c.ch <- struct{}{}:
		default:
		}
	}
	o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(clientID).SetUsername(mosquittotest.AdminUser).
		SetPassword(b.Users[mosquittotest.AdminUser]).SetProtocolVersion(4).SetCleanSession(clean).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetResumeSubs(true).SetOrderMatters(true)
	o.SetOnConnectHandler(func(pc paho.Client) {
		tok := pc.Subscribe(filter, 1, h)
		tok.WaitTimeout(5 * time.Second)
	})
	c.pc = paho.NewClient(o)
	if tok := c.pc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("collector connect: %v", tok.Error())
	}
	// The on-connect handler subscribes; give it its SUBACK.
	time.Sleep(100 * time.Millisecond)
	t.Cleanup(func() { c.pc.Disconnect(100) })
	return c
}

func (c *collector) snapshot() []msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]msg(nil), c.msgs...)
}

// waitFor polls until cond holds on the messages so far, or fails.
func (c *collector) waitFor(d time.Duration, what string, cond func([]msg) bool) []msg {
	c.t.Helper()
	deadline := time.After(d)
	for {
		m := c.snapshot()
		if cond(m) {
			return m
		}
		select {
		case <-c.ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			c.t.Fatalf("timed out after %s waiting for %s; have %d messages", d, what, len(m))
		}
	}
}

func lastOn(ms []msg, topic string) (msg, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Topic == topic {
			return ms[i], true
		}
	}
	return msg{}, false
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CWT_MQ_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func applianceOpts(t testing.TB, b *mosquittotest.Broker, id, dir string) Options {
	if dir == "" {
		dir = t.TempDir()
	}
	return Options{
		Broker: b.URL(), ApplianceID: id, Username: id, Password: b.Users[id],
		OutboxPath: filepath.Join(dir, "outbox.db"), Logger: testLogger(t),
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: 300 * time.Millisecond,
		ConnectTimeout: 3 * time.Second, KeepAlive: 5 * time.Second,
	}
}

func dial(t testing.TB, o Options) *Client {
	t.Helper()
	c, err := Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitUp(t testing.TB, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatalf("WaitConnected: %v", err)
	}
}

func mustStatus(t testing.TB, m msg) StatusPayload {
	t.Helper()
	p, err := DecodeStatus(m.Payload)
	if err != nil {
		t.Fatalf("%s: %v: %s", m.Topic, err, m.Payload)
	}
	return p
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// waitQueue waits until the outbox holds n events (the ack is deleted just
// after the subscriber may already have the message).
func waitQueue(t testing.TB, c *Client, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		q, _ := c.QueueLen()
		if q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox holds %d events, want %d", q, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
