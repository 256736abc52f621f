// Package capture feeds captured Ethernet frames to the passive decoders.
//
// It owns the packet sources — a live AF_PACKET socket (Linux, pure Go, no
// libpcap) and pcap/pcapng files — the classic BPF program that keeps camera
// video out of user space, the decoding of a raw frame into a probes.Frame
// (802.1Q tag aware), and Run, the loop that hands each frame to a
// probes.Registry.
//
// It must not interpret what a frame means (that is the decoders' job), must
// not answer or send anything on the wire (the only socket option with an
// effect outside this host is the IGMP membership that keeps snooping switches
// forwarding discovery multicast to us), and must never pass the bulk of
// camera traffic (RTP/RTSP/HTTP video) up from the kernel.
package capture
