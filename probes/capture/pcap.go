package capture

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
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
// e.g. a capture taken on a SPAN port for offline analysis.
type FileSource struct {
	r      packetReader
	closer io.Closer
}

// pcapng files start with a section header block of this type.
var pcapngMagic = []byte{0x0a, 0x0d, 0x0d, 0x0a}

// NewFileSource reads a pcap or pcapng stream from r, telling them apart by
// their first bytes.
func NewFileSource(r io.Reader) (*FileSource, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("capture: read file header: %w", err)
	}
	var pr packetReader
	if bytes.Equal(head, pcapngMagic) {
		pr, err = pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
	} else {
		pr, err = pcapgo.NewReader(br)
	}
	if err != nil {
		return nil, fmt.Errorf("capture: open capture file: %w", err)
	}
	if lt := pr.LinkType(); lt != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("capture: link type %s is not Ethernet", lt)
	}
	return &FileSource{r: pr}, nil
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

// ReadPacket returns the next frame, or io.EOF at the end of the file.
func (s *FileSource) ReadPacket() (Packet, error) {
	data, ci, err := s.r.ReadPacketData()
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			// a capture cut short by a power loss ends like a complete one
			return Packet{}, io.EOF
		}
		return Packet{}, err
	}
	// pcap has no field for a stripped tag: a tag is in the data or absent.
	return Packet{Data: data, Time: ci.Timestamp}, nil
}

// Close closes the file OpenFile opened.
func (s *FileSource) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}
