// Package lldp reads IEEE 802.1AB LLDP frames: a bounded TLV parser and a
// passive Decoder reporting the chassis id, port id, system name and system
// description a device (camera, NVR or switch) announces about itself.
//
// It never sends LLDP (announcing the appliance is not its job) and must not
// infer a maker from the strings: classify does.
package lldp
