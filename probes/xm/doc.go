// Package xm recognises the Xiongmai "NetSurveillance" (Sofia) service on TCP
// 34567, the control port of the white-label HiSilicon-based cameras and DVRs
// built on Xiongmai firmware. Every message starts with a 20-byte
// little-endian header: 0xff, version, two reserved bytes, session id,
// sequence number, two bytes of packet count/index, message id, body length;
// the body is JSON ending in "\n\0".
//
// It owns that framing both ways (ParseHeader, Message.Marshal), a Prober that
// sends one credential-free request and recognises the reply header
// (xm.netsurveillance=open), a passive Decoder for replies seen on the wire,
// and the Responder camsim uses.
//
// It must never send a password or a real user name: the only question it
// asks is "is this NetSurveillance?". It reports and never decides.
package xm
