// Package command verifies the signed commands central staff send to one
// appliance on camwarden/v1/{id}/cmd/{name}: ack (acknowledge a relay cut),
// rescan (sweep the VLAN now) and forget (drop a device by MAC).
//
// A command is a sign.Envelope (role command) around a small JSON document
// naming the command, the target appliance, a random nonce and an
// issued_at/expires_at window of at most a day. The Verifier refuses a
// command for another appliance, outside its window (trusted time from
// ota/policy) or whose nonce it has seen: nonces are persisted atomically
// before the command runs and kept until the command expires, so a replay
// is refused even after a restart.
//
// This package only decides whether a command may run; it must not carry
// commands out (the app does, through callbacks) or touch the network.
package command
