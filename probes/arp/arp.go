package arp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Operation codes (RFC 826).
const (
	OpRequest = 1
	OpReply   = 2
)

// Len is the size of an Ethernet/IPv4 ARP packet.
const Len = 28

// ErrNotEthernetIPv4 is returned for ARP packets of other hardware or
// protocol types, which this package ignores.
var ErrNotEthernetIPv4 = errors.New("arp: not Ethernet/IPv4")

// Packet is an Ethernet/IPv4 ARP packet.
type Packet struct {
	Op        uint16
	SenderMAC net.HardwareAddr
	SenderIP  netip.Addr
	TargetMAC net.HardwareAddr
	TargetIP  netip.Addr
}

// Parse reads an ARP packet (the bytes after the Ethernet header; trailing
// padding is ignored). The MACs are copies.
func Parse(b []byte) (Packet, error) {
	if len(b) < 8 {
		return Packet{}, fmt.Errorf("arp: %d bytes, need %d", len(b), Len)
	}
	htype, ptype := binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4])
	if htype != 1 || ptype != 0x0800 || b[4] != 6 || b[5] != 4 {
		return Packet{}, ErrNotEthernetIPv4
	}
	if len(b) < Len {
		return Packet{}, fmt.Errorf("arp: %d bytes, need %d", len(b), Len)
	}
	macs := make([]byte, 12)
	copy(macs[0:6], b[8:14])
	copy(macs[6:12], b[18:24])
	return Packet{
		Op:        binary.BigEndian.Uint16(b[6:8]),
		SenderMAC: macs[0:6:6],
		SenderIP:  netip.AddrFrom4([4]byte(b[14:18])),
		TargetMAC: macs[6:12:12],
		TargetIP:  netip.AddrFrom4([4]byte(b[24:28])),
	}, nil
}

// Marshal returns the 28-byte ARP packet.
func (p Packet) Marshal() ([]byte, error) {
	if len(p.SenderMAC) != 6 || (p.TargetMAC != nil && len(p.TargetMAC) != 6) {
		return nil, fmt.Errorf("arp: MACs must be 6 bytes")
	}
	if !p.SenderIP.Is4() || !p.TargetIP.Is4() {
		return nil, fmt.Errorf("arp: addresses must be IPv4 (sender %s, target %s)", p.SenderIP, p.TargetIP)
	}
	b := make([]byte, Len)
	binary.BigEndian.PutUint16(b[0:2], 1)
	binary.BigEndian.PutUint16(b[2:4], 0x0800)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], p.Op)
	copy(b[8:14], p.SenderMAC)
	s4, t4 := p.SenderIP.As4(), p.TargetIP.As4()
	copy(b[14:18], s4[:])
	copy(b[18:24], p.TargetMAC)
	copy(b[24:28], t4[:])
	return b, nil
}

// Broadcast is the Ethernet broadcast address.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Frame returns p in an Ethernet frame from p.SenderMAC to dst, padded to
// the 60-byte minimum.
func (p Packet) Frame(dst net.HardwareAddr) ([]byte, error) {
	body, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	if len(dst) != 6 {
		return nil, fmt.Errorf("arp: destination MAC must be 6 bytes")
	}
	f := make([]byte, 60)
	copy(f[0:6], dst)
	copy(f[6:12], p.SenderMAC)
	binary.BigEndian.PutUint16(f[12:14], 0x0806)
	copy(f[14:], body)
	return f, nil
}

// Kind names what the packet is doing, as the arp.op fact reports it:
// "probe" (RFC 5227 address probe: sender IP 0.0.0.0), "gratuitous" (sender
// and target IP equal: an announcement), "request" or "reply"; "" for other
// operation codes.
func (p Packet) Kind() string {
	switch {
	case p.Op == OpRequest && p.SenderIP.IsUnspecified():
		return "probe"
	case (p.Op == OpRequest || p.Op == OpReply) && p.SenderIP == p.TargetIP:
		return "gratuitous"
	case p.Op == OpRequest:
		return "request"
	case p.Op == OpReply:
		return "reply"
	}
	return ""
}
