// Package mdns reads what devices announce over multicast DNS (UDP 5353):
// service instance names ("AXIS P3245-LVE - ACCC8E123456", "HIKVISION
// DS-2CD... - serial"), service types, host names and TXT strings. It has a
// passive Decoder for captured responses, an active Discoverer that asks a
// link for camera-related service types, and the Responder camsim emulates
// devices with.
//
// The Discoverer sends a bounded number of queries only on the link it is
// given and accepts answers only from that link's subnets. Messages are capped
// at probes.MaxPayload bytes and facts at probes.MaxFacts. It emits facts;
// deciding who made a device is probes/classify's job.
package mdns
