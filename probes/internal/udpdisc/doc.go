// Package udpdisc is the UDP machinery shared by the request/reply discovery
// protocols (sadp, dhip, dvrip, ssdp): sockets with address reuse, group
// membership and the multicast interface pinned to the link; a bounded
// reader (Collect: whole-run deadline, MaxDatagrams per run, datagrams cut
// at probes.MaxPayload and flagged oversize); request rounds (SendRounds);
// the link's subnet filter (InSubnets); the read loop of an emulated
// device (Serve); and the one shape the datagram discoverers share
// (Exchange: send a request, parse each answer, one observation per
// answering address, never per MAC a reply names); and the one form of the
// MAC and address a reply claims for itself (ClaimedMAC, ClaimedIPv4).
//
// It must not parse any protocol: what a datagram means is the calling
// package's business, handed in as functions (Exchange.IsReply and
// Exchange.Parse). It also never chooses where to send: destinations, ports
// and groups come from the caller, which takes them from a probes.Link or
// probes.Target, so nothing here can reach beyond what active work allows.
// The one choice it makes is the interface for Exchange.Probe's group
// request: the one whose subnet holds the target, with TTL 1, so the
// request stays on the target's own link.
package udpdisc
