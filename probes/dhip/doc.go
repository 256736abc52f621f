// Package dhip speaks the discovery part of Dahua's DHIP protocol: a 32-byte
// little-endian header ("DHIP") followed by a JSON body, on UDP 37810 with the
// group 239.255.255.251. A DHDiscover.search request is answered by
// client.notifyDevInfo with the device's model, serial, firmware, MAC and
// Vendor (the OEM brand on relabelled units).
//
// It owns the wire format both ways (Parse, BuildSearch, Reply.Marshal), a
// passive Decoder for replies seen on the wire, an active Discoverer
// (multicast search on a Link) and Prober (unicast search to one host), and
// the Responder camsim uses to emulate a Dahua-made device.
//
// It reports what devices say (dhip.* facts) and never decides who made them.
// It must not send anything but DHDiscover.search: the same port accepts
// commands that change a device's network configuration.
package dhip
