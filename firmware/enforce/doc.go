// Package enforce turns classification verdicts and the current policy into
// what the appliance does locally: which LEDs show what, and whether the
// relay cuts the camera VLAN's uplink.
//
// Decide is the pure rule: one device, one policy, one instant → flagged or
// not, and alert, isolate or allowed. The Enforcer keeps the state around it:
// which devices are present, the relay latch (a cut stays cut until every
// isolating device has been gone for the policy's hold time and someone has
// acknowledged it, unless the policy restores automatically), the persisted
// relay state that survives a crash or power cut, and the LED legend of
// board/LEGEND.md.
//
// This package must not identify devices (that is probes/classify), talk to
// the network, or verify policy signatures (ota/policy hands it an already
// verified Policy). It never cuts on weak evidence: an OUI or hostname match
// alone can raise an alert but never open the relay, whatever the policy says.
package enforce
