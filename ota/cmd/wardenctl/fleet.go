package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/firmware/report/wire"
)

// Bounds on what a broker can make us hold.
const (
	maxAppliances          = 10000
	maxDevicesPerAppliance = 4096
)

// brokerFlags are the connection flags shared by the fleet commands.
type brokerFlags struct {
	broker, ca, cert, key, user, passwordFile, clientID string
}

func (b *brokerFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&b.broker, "broker", "", "broker URL (tcp://host:1883, mqtts://host:8883)")
	fs.StringVar(&b.ca, "ca", "", "CA file (PEM) that signed the broker's certificate")
	fs.StringVar(&b.cert, "cert", "", "client certificate (PEM) for mutual TLS")
	fs.StringVar(&b.key, "key", "", "client key (PEM) for mutual TLS")
	fs.StringVar(&b.user, "user", "", "broker user name")
	fs.StringVar(&b.passwordFile, "password-file", "", "file whose first line is the broker password")
	fs.StringVar(&b.clientID, "client-id", "", "MQTT client id (default: wardenctl-<random>)")
}

func (b *brokerFlags) connect(ctx context.Context, onConnect func(paho.Client)) (paho.Client, error) {
	o, err := b.options()
	if err != nil {
		return nil, err
	}
	pc := paho.NewClient(o.SetCleanSession(true).SetAutoReconnect(true).SetMaxReconnectInterval(30 * time.Second).
		SetOnConnectHandler(onConnect))
	tok := pc.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect %s as %q: %w", b.broker, b.user, err)
	}
	return pc, nil
}

// options builds the client options the flags describe: broker, TLS,
// credentials and client id.
func (b *brokerFlags) options() (*paho.ClientOptions, error) {
	if b.broker == "" {
		return nil, errors.New("--broker is required")
	}
	tc, err := wire.BrokerTLS(b.broker, b.ca, b.cert, b.key)
	if err != nil {
		return nil, err
	}
	if (b.cert == "") != (b.key == "") {
		return nil, errors.New("--cert and --key go together")
	}
	var password string
	if b.passwordFile != "" {
		raw, err := os.ReadFile(b.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
		password, _, _ = strings.Cut(string(raw), "\n")
		password = strings.TrimRight(password, "\r")
	}
	id := b.clientID
	if id == "" {
		var r [6]byte
		_, _ = rand.Read(r[:])
		id = "wardenctl-" + hex.EncodeToString(r[:])
	}
	o := paho.NewClientOptions().AddBroker(b.broker).SetClientID(id).SetUsername(b.user).SetPassword(password).
		SetProtocolVersion(4).SetConnectTimeout(10 * time.Second)
	if tc != nil {
		o.SetTLSConfig(tc)
	}
	return o, nil
}

// appliance is what the fleet view knows about one appliance.
type appliance struct {
	ID       string
	Status   *wire.StatusPayload
	Info     *wire.InfoPayload
	LastSeen time.Time
	Devices  map[string]wire.DevicePayload
}

// newer reports whether status a supersedes b. A higher session wins, so a
// will from an old connection delivered late cannot override a newer online.
// Within a session offline is final (the will's seq is older than the
// session's online statuses), and among online statuses the higher seq wins.
func newer(a, b *wire.StatusPayload) bool {
	switch {
	case b == nil:
		return true
	case a.Session != b.Session:
		return a.Session > b.Session
	case !a.Online:
		return true
	case !b.Online:
		return false
	default:
		return a.Seq >= b.Seq
	}
}

// fleet accumulates retained (and live) state from camwarden/v1/#.
type fleet struct {
	mu      sync.Mutex
	apps    map[string]*appliance
	last    time.Time // arrival of the last message
	changed chan string
	bad     int // undecodable messages
}

func newFleet() *fleet {
	return &fleet{apps: map[string]*appliance{}, changed: make(chan string, 256)}
}

var fleetTopics = map[string]byte{
	wire.TopicRoot + "+/status":    1,
	wire.TopicRoot + "+/info":      1,
	wire.TopicRoot + "+/devices/+": 1,
	wire.TopicRoot + "+/evt/+":     1,
}

func (f *fleet) handle(topic string, payload []byte) {
	app, kind, rest, ok := wire.ParseTopic(topic)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = time.Now()
	a := f.apps[app]
	if a == nil {
		if len(f.apps) >= maxAppliances {
			return
		}
		a = &appliance{ID: app, Devices: map[string]wire.DevicePayload{}}
		f.apps[app] = a
	}
	seen := func(ts time.Time) {
		if ts.After(a.LastSeen) {
			a.LastSeen = ts
		}
	}
	switch kind {
	case wire.KindStatus:
		p, err := wire.DecodeStatus(payload)
		if err != nil {
			f.bad++
			return
		}
		if newer(&p, a.Status) {
			a.Status = &p
		}
		seen(p.TS)
	case wire.KindInfo:
		p, err := wire.DecodeInfo(payload)
		if err != nil {
			f.bad++
			return
		}
		a.Info = &p
		seen(p.TS)
	case wire.KindDevice:
		p, ok, err := wire.DecodeDevice(payload)
		switch {
		case err != nil:
			f.bad++
			return
		case !ok:
			delete(a.Devices, rest)
		default:
			if _, have := a.Devices[rest]; have || len(a.Devices) < maxDevicesPerAppliance {
				a.Devices[rest] = p
			}
			seen(p.TS)
		}
	case wire.KindEvent:
		// Events only move "last seen": their ts is when they happened,
		// which for historical ones may be long ago.
		if p, err := wire.DecodeEvent(payload); err == nil && !p.Historical {
			seen(p.TS)
		}
	default:
		return
	}
	select {
	case f.changed <- app:
	default:
	}
}

func (f *fleet) subscribe(pc paho.Client) error {
	tok := pc.SubscribeMultiple(fleetTopics, func(_ paho.Client, m paho.Message) { f.handle(m.Topic(), m.Payload()) })
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("subscribe: no SUBACK in 10s")
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for t, q := range st.Result() {
			if q == 0x80 {
				return fmt.Errorf("subscribe %s: refused by the broker (ACL)", t)
			}
		}
	}
	return nil
}

// collect connects, subscribes and returns the fleet once retained messages
// have stopped arriving (see awaitRetained).
func collect(ctx context.Context, b *brokerFlags, timeout, quiet time.Duration) (*fleet, error) {
	f := newFleet()
	last := func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.last
	}
	if err := awaitRetained(ctx, b, timeout, quiet, f.subscribe, last); err != nil {
		return nil, err
	}
	return f, nil
}

// awaitRetained connects, subscribes once connected and returns once
// retained messages have stopped arriving for quiet (they follow the SUBACK
// at once), or at timeout, which also bounds the wait for the SUBACK.
// lastMsg says when the last message arrived (zero: none yet). The client is
// disconnected on return, so the handlers have stopped writing by then.
func awaitRetained(ctx context.Context, b *brokerFlags, timeout, quiet time.Duration, subscribe func(paho.Client) error, lastMsg func() time.Time) error {
	subErr := make(chan error, 1)
	pc, err := b.connect(ctx, func(pc paho.Client) {
		go func() { subErr <- subscribe(pc) }()
	})
	if err != nil {
		return err
	}
	defer pc.Disconnect(100)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case err := <-subErr:
		if err != nil {
			return err
		}
	case <-deadline.C:
		return fmt.Errorf("no SUBACK from %s within %s", b.broker, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	// Quiet counts from the SUBACK at the earliest: retained messages that
	// raced it in must not cut the wait for the rest short.
	start := time.Now()
	tick := time.NewTicker(quiet / 4)
	defer tick.Stop()
	for {
		select {
		case <-deadline.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			last := lastMsg()
			if last.Before(start) {
				last = start
			}
			if time.Since(last) >= quiet {
				return nil
			}
		}
	}
}

// collectLatest gathers, per appliance, the newest retained payload on
// filter, at most maxAppliances of them. decode turns a message (the topic
// after its kind, and the payload) into a payload and its seq, or says it
// is not one.
func collectLatest[T any](ctx context.Context, b *brokerFlags, filter string, timeout, quiet time.Duration, decode func(rest string, payload []byte) (T, uint64, bool)) (map[string]T, error) {
	type entry struct {
		p   T
		seq uint64
	}
	var mu sync.Mutex
	got := map[string]entry{}
	var last time.Time
	handler := func(_ paho.Client, m paho.Message) {
		app, _, rest, ok := wire.ParseTopic(m.Topic())
		if !ok || len(m.Payload()) == 0 || len(m.Payload()) > wire.MaxPayload {
			return
		}
		p, seq, ok := decode(rest, m.Payload())
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		last = time.Now()
		if old, have := got[app]; (have || len(got) < maxAppliances) && (!have || seq >= old.seq) {
			got[app] = entry{p, seq}
		}
	}
	subscribe := func(pc paho.Client) error {
		tok := pc.Subscribe(filter, 1, handler)
		tok.WaitTimeout(10 * time.Second)
		if err := tok.Error(); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		return nil
	}
	lastMsg := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
	if err := awaitRetained(ctx, b, timeout, quiet, subscribe, lastMsg); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]T, len(got))
	for app, e := range got {
		out[app] = e.p
	}
	return out, nil
}

// sorted returns the appliances by id (callers hold f.mu).
func (f *fleet) sorted() []*appliance {
	out := make([]*appliance, 0, len(f.apps))
	for _, a := range f.apps {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *appliance) int { return strings.Compare(a.ID, b.ID) })
	return out
}
