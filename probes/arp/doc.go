// Package arp speaks ARP for camwarden: the wire format both ways (Parse,
// Packet.Frame), a passive Decoder that reports who announces, asks and
// answers on the link, and Sweeper, the active discoverer that asks every
// address of the link's subnets at a bounded packet rate.
//
// It reports raw facts (arp.op, arp.sweep) with the sender's MAC and IP; it
// must not guess a maker from the MAC (classify does that from the OUI), must
// not answer ARP, and must never sweep a subnet the Link does not name.
package arp
