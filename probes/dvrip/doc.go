// Package dvrip speaks the discovery part of Dahua's older binary DVRIP
// protocol: a 32-byte search broadcast to UDP 5050 (starting a3 01 00 01),
// answered by a reply starting b3 that carries the device type, IPv4 settings,
// the MAC as text and, on newer firmware, "Key:Value" lines with the serial.
//
// It owns the wire format both ways (BuildSearch/IsSearch, ParseReply/
// Reply.Marshal), a passive Decoder, an active Discoverer (directed broadcast
// on a Link's subnets) and Prober (unicast), and the Responder camsim uses.
//
// The reply layout is known only from public reverse engineering
// (julienblitte/UniversalScanner Dahua1.cs), so the parser is conservative: it
// reports dvrip.seen for any well-formed reply and a field only when it
// decodes cleanly. It never decides who made a device and never sends anything
// but the search.
package dvrip
