// Package sadp speaks Hikvision's Search Active Devices Protocol: plain XML
// datagrams on UDP 37020, inquiries sent to the group 239.255.255.250 and
// ProbeMatch replies carrying model, serial, MAC, firmware and activation.
//
// It owns the wire format both ways (ParseInquiry/ParseReply, BuildInquiry/
// Reply.Marshal), a passive Decoder for SADP traffic seen on the wire, an
// active Discoverer (multicast inquiry on a Link) and Prober (one host asked
// at its address and on the group of its link, only its answer kept), and
// the Responder camsim uses to emulate a Hikvision device. Answers belong to
// whoever sent them: the MAC and address a ProbeMatch names are facts
// (sadp.mac, sadp.ipv4), never the observation's identity.
//
// A device that answers SADP is Hikvision-made whatever its label says, but
// this package only reports what was said (sadp.* facts); it never decides.
// It must not send anything but inquiries: SADP also carries commands that
// change a device's network settings and activate it, and the appliance has
// no business sending those.
package sadp
