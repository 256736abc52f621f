package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packetReader is what pcapgo's pcap and pcapng readers have in common.
type packetReader interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// FileSource reads frames from a pcap or pcapng file (Ethernet link type),
// e.g. a capture taken on a SPAN port for offline analysis. A file that
// stops making sense part-way (cut short, a length no tool writes, a block
// that is not one) yields its packets up to that point and then a
// *DamagedError instead of io.EOF, so the caller can use what was read and
// still say the file is damaged.
type FileSource struct {
	r       packetReader
	fr      *framer
	closer  io.Closer
	packets int
	err     error // the damage, once found; returned from then on
}

// pcapng files start with a section header block of this type.
var pcapngMagic = []byte{0x0a, 0x0d, 0x0d, 0x0a}

// NewFileSource reads a pcap or pcapng stream from r, telling them apart by
// their first bytes. A gzip-compressed file is read through gzip; damage is
// then located by its offset in the uncompressed stream.
func NewFileSource(r io.Reader) (*FileSource, error) {
	br := bufio.NewReader(r)
	if gz, err := br.Peek(2); err == nil && gz[0] == 0x1f && gz[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("capture: read gzip header: %w", err)
		}
		br = bufio.NewReader(zr)
	}
	head, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("capture: read file header: %w", err)
	}
	s := &FileSource{}
	ng := bytes.Equal(head, pcapngMagic)
	switch m := binary.LittleEndian.Uint32(head); {
	case ng:
		s.fr = newFramer(br, true)
		s.r, err = pcapgo.NewNgReader(s.fr, pcapgo.DefaultNgReaderOptions)
	case m == pcapMagicMicro || m == pcapMagicNano || bits.ReverseBytes32(m) == pcapMagicMicro || bits.ReverseBytes32(m) == pcapMagicNano:
		s.fr = newFramer(br, false)
		s.r, err = pcapgo.NewReader(s.fr)
	default:
		err = fmt.Errorf("not a pcap or pcapng file (starts %x)", head)
	}
	if err != nil {
		if s.fr != nil && s.fr.damage != nil {
			err = s.fr.damage
		}
		return nil, fmt.Errorf("capture: open capture file: %w", err)
	}
	if lt := s.r.LinkType(); lt != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("capture: link type %s is not Ethernet", lt)
	}
	return s, nil
}

// OpenFile opens a pcap or pcapng file.
func OpenFile(path string) (*FileSource, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	s, err := NewFileSource(fh)
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	s.closer = fh
	return s, nil
}

// ReadPacket returns the next frame, io.EOF at the clean end of the file,
// or a *DamagedError (with the packets read before it) at the first damage.
func (s *FileSource) ReadPacket() (Packet, error) {
	if s.err != nil {
		return Packet{}, s.err
	}
	data, ci, err := s.r.ReadPacketData()
	if err == nil {
		s.packets++
		// pcap has no field for a stripped tag: a tag is in the data or absent.
		return Packet{Data: data, Time: ci.Timestamp}, nil
	}
	// The framer's own finding is the precise one, whatever pcapgo made of
	// the error it returned; a clean io.EOF is only clean if it found none.
	var d *DamagedError
	switch {
	case s.fr.damage != nil:
		d = s.fr.damage
	case err == io.EOF:
		return Packet{}, io.EOF
	default:
		// pcapgo refused what the framing let through (a captured length
		// above the original, an option that overruns its block): the
		// record or block it was reading is the damaged one.
		idx := s.fr.index
		if idx == 0 {
			idx = 1
		}
		d = &DamagedError{Offset: s.fr.start, Unit: s.fr.unit, Index: idx, Reason: err.Error()}
	}
	d.Packets = s.packets
	s.err = d
	return Packet{}, d
}

// Close closes the file OpenFile opened.
func (s *FileSource) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}
