package mqtt

import (
	"fmt"
	"strings"

	"github.com/camwarden/camwarden/firmware/report/wire"
)

// fleetMark prefixes a subscription suffix that lives under
// camwarden/v1/fleet/ instead of the appliance's own prefix. It cannot be
// part of a real topic (MQTT topics are UTF-8 without NUL).
const fleetMark = "\x00fleet/"

// FleetTopic is wire.FleetTopic.
const FleetTopic = wire.FleetTopic

// topicFor maps a stored subscription suffix to its full topic.
func (c *Client) topicFor(suffix string) string {
	if rest, ok := strings.CutPrefix(suffix, fleetMark); ok {
		return FleetTopic + rest
	}
	return c.prefix + suffix
}

// SubscribeFleet is Subscribe for camwarden/v1/fleet/{topicSuffix}: the
// retained key set and fleet policy every appliance reads. The broker ACL
// must let appliances read camwarden/v1/fleet/#.
func (c *Client) SubscribeFleet(topicSuffix string, handler func(topic string, payload []byte)) error {
	if topicSuffix == "" || strings.HasPrefix(topicSuffix, "/") {
		return fmt.Errorf("mqtt: subscribe fleet %q: need a relative topic suffix", topicSuffix)
	}
	return c.Subscribe(fleetMark+topicSuffix, handler)
}

// NewHeader stamps a payload header for schema with the appliance id, the
// time, the next persistent seq and a fresh msg_id, for callers that publish
// their own payloads through Publish.
func (c *Client) NewHeader(schema string) Header { return c.header(schema) }

// Publish sends payload on camwarden/v1/{applianceId}/{topicSuffix} at QoS 1
// (retained if asked). It does not wait for the PUBACK, so it may be called
// from a Subscribe handler (waiting there would stall paho's delivery
// goroutine). It returns ErrNotConnected while the link is down: unlike
// Device and Status, nothing is remembered for the next connection.
func (c *Client) Publish(topicSuffix string, payload []byte, retained bool) error {
	if topicSuffix == "" || strings.HasPrefix(topicSuffix, "/") || strings.ContainsAny(topicSuffix, "+#\x00") {
		return fmt.Errorf("mqtt: publish %q: need a relative topic without wildcards", topicSuffix)
	}
	if len(payload) > MaxPayload {
		return fmt.Errorf("mqtt: publish %s: %d bytes, more than %d", topicSuffix, len(payload), MaxPayload)
	}
	if retained {
		// Retained publishes are serialised like the client's own, so an
		// older state cannot overtake a newer one.
		c.retMu.Lock()
		defer c.retMu.Unlock()
	}
	c.mu.Lock()
	pc := c.pc
	c.mu.Unlock()
	if pc == nil {
		return ErrNotConnected
	}
	pc.Publish(c.prefix+topicSuffix, 1, retained, payload)
	return nil
}
