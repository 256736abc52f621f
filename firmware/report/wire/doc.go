// Package wire is the MQTT contract between appliances and central tools:
// the topic tree (camwarden/v1/{appliance}/..., camwarden/v1/fleet/...), the
// schema names, the payload types every message carries and bounded
// decoders for them, and how a client builds its TLS configuration for the
// broker. The appliance's client (firmware/report/mqtt), wardenctl and the
// integrators' documentation (firmware/report/mqtt/README.md) all use it.
//
// It holds no connection, no outbox and no state: a central tool that only
// reads the fleet links this package, not the appliance's client. Payloads
// only ever gain fields within a schema's major version.
package wire
