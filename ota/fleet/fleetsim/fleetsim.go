// Package fleetsim simulates appliances publishing to a broker, for the
// fleet store's tests and the fleet benchmark: each message is published at
// QoS 1 and sent again until the broker acknowledges it, so it reaches the
// broker at least once across a broker restart, as the appliance's durable
// outbox does.
package fleetsim

import (
	"context"
	"fmt"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/camwarden/camwarden/ota/fleet"
)

// Publisher is one broker connection that many simulated appliances share
// (a thousand TCP connections would measure the simulator, not the store).
type Publisher struct {
	c paho.Client
}

// Connect opens a publisher connection.
func Connect(ctx context.Context, broker, clientID, user, password string) (*Publisher, error) {
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetUsername(user).SetPassword(password).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetMaxReconnectInterval(time.Second).
		SetMessageChannelDepth(1000)
	c := paho.NewClient(o)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		c.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return &Publisher{c: c}, nil
}

// Close disconnects.
func (p *Publisher) Close() { p.c.Disconnect(250) }

// Send publishes and waits for the broker's acknowledgement, sending again
// after a failure or 5 s without one, until ctx ends.
func (p *Publisher) Send(ctx context.Context, m fleet.Publication) error {
	for {
		tok := p.c.Publish(m.Topic, 1, m.Retained, m.Payload)
		select {
		case <-tok.Done():
			if tok.Error() == nil {
				return nil
			}
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SendAll publishes ms with up to window messages awaiting their
// acknowledgement at once, each sent again until acknowledged.
func (p *Publisher) SendAll(ctx context.Context, ms []fleet.Publication, window int) error {
	sem := make(chan struct{}, max(window, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, m := range ms {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.Send(ctx, m); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("%s: %w", m.Topic, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
