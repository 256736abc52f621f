// Package inventory keeps one Device per MAC address, merged from the
// observations of every probe: facts with the probe that saw them and when.
// It is bounded (devices, facts per device) so a hostile VLAN cannot exhaust
// the appliance, and persisted in bbolt under the state directory so a restart
// keeps what was learned.
//
// When full it evicts by rank, not by age alone: devices the owner marked
// with SetKeep (identified, latched, flagged) go only when nothing lower is
// left, and among the rest one-frame MACs go before probed devices, least
// recently seen first (one list per rank, so an eviction costs O(1) under a
// flood). OnEvict lets per-device structures elsewhere follow. Writes are
// incremental (only changed devices, at Flush); sightings that only move
// LastSeen, and MACs that showed nothing but themselves, wait for one batch
// per SeenStep into a small MAC->time bucket, so idle chatter and floods do
// not wear the SD card (bbolt rewrites every page a transaction touches).
//
// The inventory never classifies: it stores facts and says what changed.
package inventory
