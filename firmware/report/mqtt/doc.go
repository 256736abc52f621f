// Package mqtt is the appliance's report.Reporter over MQTT 3.1.1 (paho):
// retained status/info/device topics, events through a durable bbolt outbox
// (fsync before publish, removed only after PUBACK, replayed in order after
// an outage or a restart), QoS 0 telemetry, and a Subscribe hook for the
// down-link channels (policy, cmd, ota) that later packages consume.
//
// The wire contract (topics, QoS, retain flags, JSON fields) is documented in
// README.md beside this file; the payload types here are its Go form, and the
// Decode/ParseTopic helpers let consumers such as wardenctl read it with
// bounded input.
//
// It must not decide anything about devices or policy: it carries state built
// elsewhere, and it must never log the broker password.
package mqtt
