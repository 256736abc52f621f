package capture

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// DiscoveryPorts are the UDP ports whose datagrams (to or from) pass the
// kernel filter: DHCP, SSDP, WS-Discovery, DVRIP discovery, mDNS, SADP, DHIP.
var DiscoveryPorts = []uint16{67, 68, 1900, 3702, 5050, 5353, 37020, 37810}

// DefaultSnapLen is how many bytes of a passing frame are kept: a jumbo frame,
// so a whole discovery datagram arrives in one piece.
const DefaultSnapLen = 9216

// EtherTypes the filter knows.
const (
	etARP   = 0x0806
	etLLDP  = 0x88cc
	etIPv4  = 0x0800
	etIPv6  = 0x86dd
	etVLAN  = 0x8100
	etQinQ  = 0x88a8
	ethLen  = 14
	vlanLen = 4
)

// ICMPv6 neighbour discovery message types: router solicitation (133) to
// redirect (137).
const (
	ndFirst = 133
	ndLast  = 137
)

// Program returns the classic BPF program that accepts (keeping snapLen
// bytes) only ARP, LLDP, ICMPv6 neighbour discovery and UDP to or from one of
// DiscoveryPorts, over IPv4 or IPv6, untagged or behind one 802.1Q/802.1ad
// tag. Everything else — in particular RTP/RTSP video and TCP — returns 0 and
// is dropped in the kernel. Later IPv4 fragments are dropped too: they carry
// no UDP header to match on.
//
// On a live AF_PACKET socket the kernel has already moved any VLAN tag into
// packet metadata, so the untagged half of the program applies; the tagged
// half serves frames whose tag is still in the data (pcap files from a SPAN
// port, sockets on drivers without tag offload).
func Program(snapLen uint32) []bpf.Instruction {
	if snapLen == 0 {
		snapLen = DefaultSnapLen
	}
	var a asm
	l2 := func(off uint32, tagged bool) {
		sfx := fmt.Sprint(off)
		a.op(bpf.LoadAbsolute{Off: off - 2, Size: 2})
		a.jeq(etARP, "accept", "")
		a.jeq(etLLDP, "accept", "")
		a.jeq(etIPv4, "v4_"+sfx, "")
		a.jeq(etIPv6, "v6_"+sfx, "")
		if !tagged {
			a.jeq(etVLAN, "l2_18", "")
			a.jeq(etQinQ, "l2_18", "")
		}
		a.jmp("reject")
	}
	ports := func() {
		for _, p := range DiscoveryPorts {
			a.jeq(uint32(p), "accept", "")
		}
	}
	l3 := func(l uint32) {
		sfx := fmt.Sprint(l)
		a.label("v4_" + sfx)
		a.op(bpf.LoadAbsolute{Off: l + 6, Size: 2})  // flags + fragment offset
		a.jif(bpf.JumpBitsSet, 0x1fff, "reject", "") // not the first fragment
		a.op(bpf.LoadAbsolute{Off: l + 9, Size: 1})  // protocol
		a.jeq(17, "", "reject")                      // UDP only
		a.op(bpf.LoadMemShift{Off: l})               // X = IHL*4
		a.op(bpf.LoadIndirect{Off: l, Size: 2})      // source port
		ports()
		a.op(bpf.LoadIndirect{Off: l + 2, Size: 2}) // destination port
		ports()
		a.jmp("reject")

		a.label("v6_" + sfx)
		a.op(bpf.LoadAbsolute{Off: l + 6, Size: 1}) // next header
		a.jeq(58, "icmp6_"+sfx, "")
		a.jeq(17, "udp6_"+sfx, "")
		a.jmp("reject")
		a.label("icmp6_" + sfx)
		a.op(bpf.LoadAbsolute{Off: l + 40, Size: 1}) // ICMPv6 type
		a.jif(bpf.JumpGreaterOrEqual, ndFirst, "", "reject")
		a.jif(bpf.JumpGreaterThan, ndLast, "reject", "accept")
		a.label("udp6_" + sfx)
		a.op(bpf.LoadAbsolute{Off: l + 40, Size: 2})
		ports()
		a.op(bpf.LoadAbsolute{Off: l + 42, Size: 2})
		ports()
		a.jmp("reject")
	}
	l2(ethLen, false)
	a.label("l2_18")
	l2(ethLen+vlanLen, true)
	l3(ethLen)
	l3(ethLen + vlanLen)
	a.label("accept")
	a.op(bpf.RetConstant{Val: snapLen})
	a.label("reject")
	a.op(bpf.RetConstant{Val: 0})
	prog, err := a.resolve()
	if err != nil {
		// The program is fixed at compile time; a failure here is a bug in
		// this file that every test catches.
		panic(err)
	}
	return prog
}

// Filter assembles Program for the kernel.
func Filter(snapLen uint32) ([]bpf.RawInstruction, error) {
	raw, err := bpf.Assemble(Program(snapLen))
	if err != nil {
		return nil, fmt.Errorf("capture: assemble filter: %w", err)
	}
	return raw, nil
}

// asm is a tiny assembler with symbolic jump targets, because hand-counted
// skip offsets in a 100-instruction program are where filter bugs hide.
type asm struct {
	ops []asmOp
}

type asmOp struct {
	ins      bpf.Instruction
	cond     bpf.JumpTest
	val      uint32
	jt, jf   string // "" means the next instruction
	jump     bool   // conditional jump to resolve
	always   string // unconditional jump target
	labelFor string
}

func (a *asm) op(i bpf.Instruction) { a.ops = append(a.ops, asmOp{ins: i}) }
func (a *asm) label(l string)       { a.ops = append(a.ops, asmOp{labelFor: l}) }
func (a *asm) jmp(l string)         { a.ops = append(a.ops, asmOp{always: l}) }
func (a *asm) jeq(v uint32, jt, jf string) {
	a.jif(bpf.JumpEqual, v, jt, jf)
}
func (a *asm) jif(c bpf.JumpTest, v uint32, jt, jf string) {
	a.ops = append(a.ops, asmOp{jump: true, cond: c, val: v, jt: jt, jf: jf})
}

func (a *asm) resolve() ([]bpf.Instruction, error) {
	labels := map[string]int{}
	n := 0
	for _, o := range a.ops {
		if o.labelFor != "" {
			if _, dup := labels[o.labelFor]; dup {
				return nil, fmt.Errorf("capture: filter label %q defined twice", o.labelFor)
			}
			labels[o.labelFor] = n
			continue
		}
		n++
	}
	skip := func(at int, l string) (uint32, error) {
		if l == "" {
			return 0, nil
		}
		to, ok := labels[l]
		if !ok {
			return 0, fmt.Errorf("capture: filter label %q undefined", l)
		}
		d := to - at - 1
		if d < 0 || d > 255 {
			return 0, fmt.Errorf("capture: filter jump to %q out of range (%d)", l, d)
		}
		return uint32(d), nil
	}
	out := make([]bpf.Instruction, 0, n)
	for _, o := range a.ops {
		at := len(out)
		switch {
		case o.labelFor != "":
		case o.always != "":
			d, err := skip(at, o.always)
			if err != nil {
				return nil, err
			}
			out = append(out, bpf.Jump{Skip: d})
		case o.jump:
			t, err := skip(at, o.jt)
			if err != nil {
				return nil, err
			}
			f, err := skip(at, o.jf)
			if err != nil {
				return nil, err
			}
			out = append(out, bpf.JumpIf{Cond: o.cond, Val: o.val, SkipTrue: uint8(t), SkipFalse: uint8(f)})
		default:
			out = append(out, o.ins)
		}
	}
	return out, nil
}
