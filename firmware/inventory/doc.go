// Package inventory keeps one Device per MAC address, merged from the
// observations of every probe: facts with the probe that saw them and when.
// It is bounded (devices, facts per device) so a hostile VLAN cannot exhaust
// the appliance, and persisted in bbolt under the state directory so a restart
// keeps what was learned.
//
// The inventory never classifies: it stores facts and says what changed.
package inventory
