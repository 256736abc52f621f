package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Limits a record or block header may claim. Past them the file is called
// damaged before a byte of the body is read, so a hostile length never
// becomes an allocation or a long read. Both are libpcap's own ceilings:
// MAXIMUM_SNAPLEN (pcap-int.h) for a pcap record, and the 16 MiB that
// sf-pcapng.c allows a pcapng block to grow to.
const (
	maxRecordLen = 262144
	maxBlockLen  = 16 << 20
)

// pcap and pcapng magic numbers as they read in little-endian order.
const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	ngBlockSHB     = 0x0a0d0d0a
	ngBOM          = 0x1a2b3c4d
)

// DamagedError says a capture file stops making sense part-way: where, in
// what, and how much of it came before. Everything before Offset was read
// and used.
type DamagedError struct {
	Offset  int64  // byte offset of the record or block that is damaged
	Unit    string // "record" (pcap) or "block" (pcapng)
	Index   int    // 1-based number of that record or block in the file
	Packets int    // packets read before it
	Reason  string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("capture damaged at byte %d (%s %d): %s; read before it: %d packets, %d bytes",
		e.Offset, e.Unit, e.Index, e.Reason, e.Packets, e.Offset)
}

// framer sits between the file and pcapgo and passes the bytes through one
// record or block at a time. It knows where each starts, so damage is
// reported with its exact offset, and it checks every claimed length
// against the limits before pcapgo sees it.
type framer struct {
	r     io.Reader
	ng    bool
	order binary.ByteOrder
	unit  string

	off     int64  // bytes passed on so far
	start   int64  // offset of the current record or block
	index   int    // number of the current record or block
	claimed int64  // total length the current one claims
	left    int64  // its bytes still to pass on
	hdr     []byte // header bytes read and checked, still to pass on
	buf     [24]byte
	started bool // file header (pcap) passed on
	damage  *DamagedError
}

func newFramer(r io.Reader, ng bool) *framer {
	f := &framer{r: r, ng: ng, unit: "record"}
	if ng {
		f.unit = "block"
	}
	return f
}

// fail records the first damage; later reads keep returning it.
func (f *framer) fail(format string, a ...any) error {
	if f.damage == nil {
		f.damage = &DamagedError{Offset: f.start, Unit: f.unit, Index: f.index, Reason: fmt.Sprintf(format, a...)}
	}
	return f.damage
}

func (f *framer) Read(p []byte) (int, error) {
	if f.damage != nil {
		return 0, f.damage
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(f.hdr) == 0 && f.left == 0 {
		if err := f.next(); err != nil {
			return 0, err
		}
	}
	if len(f.hdr) > 0 {
		n := copy(p, f.hdr)
		f.hdr = f.hdr[n:]
		f.off += int64(n)
		return n, nil
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.off += int64(n)
	f.left -= int64(n)
	if err == io.EOF && f.left > 0 {
		return n, f.fail("the file ends %d bytes into a %s that claims %d bytes", f.off-f.start, f.unit, f.claimed)
	}
	if err != nil && err != io.EOF {
		return n, f.fail("read error: %v", err)
	}
	return n, nil
}

// next reads and checks the next header. A file that ends cleanly between
// records is io.EOF; one that ends inside a header is damaged.
func (f *framer) next() error {
	f.start = f.off
	if !f.ng && !f.started {
		// The 24-byte file header: NewFileSource has matched its magic.
		if _, err := io.ReadFull(f.r, f.buf[:24]); err != nil {
			return f.fail("the file ends inside its 24-byte header")
		}
		f.order = binary.LittleEndian
		if m := binary.LittleEndian.Uint32(f.buf[:4]); m != pcapMagicMicro && m != pcapMagicNano {
			f.order = binary.BigEndian
		}
		f.started = true
		// The reader behind us keeps snaplen as an int: on a 32-bit board
		// (a Pi Zero) a header claiming 2 GiB or more turns negative and
		// every record reads as too long. Records are held to
		// maxRecordLen here anyway, so a larger snaplen says nothing more.
		if f.order.Uint32(f.buf[16:20]) > maxRecordLen {
			f.order.PutUint32(f.buf[16:20], maxRecordLen)
		}
		f.hdr = f.buf[:24]
		return nil
	}
	hl := 16
	if f.ng {
		hl = 8
	}
	n, err := io.ReadFull(f.r, f.buf[:hl])
	if err == io.EOF {
		return io.EOF
	}
	f.index++
	if err == io.ErrUnexpectedEOF {
		return f.fail("the file ends %d bytes into a %d-byte %s header", n, hl, f.unit)
	}
	if err != nil {
		return f.fail("read error: %v", err)
	}
	if !f.ng {
		caplen := f.order.Uint32(f.buf[8:12])
		if caplen > maxRecordLen {
			return f.fail("the record claims %d captured bytes, more than the %d any capture tool writes", caplen, maxRecordLen)
		}
		f.claimed = int64(hl) + int64(caplen)
		f.left = int64(caplen)
		f.hdr = f.buf[:hl]
		return nil
	}
	if binary.LittleEndian.Uint32(f.buf[:4]) == ngBlockSHB {
		// A section header sets the byte order of everything up to the next.
		if _, err := io.ReadFull(f.r, f.buf[8:12]); err != nil {
			return f.fail("the file ends inside a section header")
		}
		switch {
		case binary.LittleEndian.Uint32(f.buf[8:12]) == ngBOM:
			f.order = binary.LittleEndian
		case binary.BigEndian.Uint32(f.buf[8:12]) == ngBOM:
			f.order = binary.BigEndian
		default:
			return f.fail("section header with an unknown byte-order magic %x", f.buf[8:12])
		}
		hl = 12
	} else if f.order == nil {
		return f.fail("the file does not start with a section header")
	}
	total := f.order.Uint32(f.buf[4:8])
	switch {
	case total < 12 || total%4 != 0:
		return f.fail("the block claims a length of %d bytes (at least 12, a multiple of 4)", total)
	case total > maxBlockLen:
		return f.fail("the block claims %d bytes, more than the %d-byte limit", total, maxBlockLen)
	case int64(total) < int64(hl):
		return f.fail("the section header claims only %d bytes", total)
	}
	f.claimed = int64(total)
	f.left = int64(total) - int64(hl)
	f.hdr = f.buf[:hl]
	return nil
}
