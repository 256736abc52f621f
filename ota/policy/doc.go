// Package policy is the appliance's side of signed policy: the policy
// document (what to flag, what to do, probe settings, extra classifier
// signatures), the rules a received document must pass, the version floor,
// trusted time, and the atomic on-disk store.
//
// A received policy is applied only when it is a sign.Envelope signed by a
// current, unrevoked key of role policy in the newest root-signed key set;
// its version is above the floor (an equal version is re-acknowledged, a
// lower one rejected); it has not expired and was not issued more than the
// skew in the future by trusted time; and its scope includes this appliance.
// An accepted policy is written to disk (temp file, fsync, rename, fsync
// directory) and the floor raised before it is swapped in through an
// atomic.Pointer, so a crash at any point leaves the old policy or the
// complete new one, never a mix; Open verifies the stored policy again.
//
// Only the root can lower the floor, through a sign.PolicyReset in a key
// set: the floor drops to the reset's, and policies above it issued before
// the reset are refused (CodeVoided) and dropped if in force.
//
// Trusted time is the later of the system clock, once synchronised, and the
// newest issued_at of any accepted signed document (persisted).
//
// This package does not talk MQTT and does not drive enforcement (it
// depends on signing and classification only): the firmware/app glue feeds
// it messages, reports outcomes, turns Applied.Doc into the enforcer's rules
// (enforce.FromRules, the same converter the local policy uses) and hands
// Applied.Signatures to the classifier.
package policy
