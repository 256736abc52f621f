package capture_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/camwarden/camwarden/probes/capture"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// readAll drains a file source the way Run does, with a bound so a
// reader that never ends fails the test instead of hanging it.
func readAll(t testing.TB, data []byte) (packets int, err error) {
	t.Helper()
	src, err := capture.NewFileSource(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	for packets = 0; packets <= len(data); packets++ {
		if _, err := src.ReadPacket(); err != nil {
			return packets, err
		}
	}
	t.Fatalf("%d packets from %d bytes", packets, len(data))
	return
}

func writePcapng(t testing.TB, frames [][]byte) []byte {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(f), Length: len(f)}, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pcapOffsets are the byte offsets where each record of writePcap's file
// starts, and (last) the file's length.
func pcapOffsets(frames [][]byte) []int64 {
	offs := []int64{24}
	for _, f := range frames {
		offs = append(offs, offs[len(offs)-1]+16+int64(len(f)))
	}
	return offs
}

func wantDamage(t *testing.T, err error, offset int64, index, packets int, reason string) {
	t.Helper()
	var d *capture.DamagedError
	if !errors.As(err, &d) {
		t.Fatalf("err %v, want a *DamagedError", err)
	}
	if d.Offset != offset || d.Index != index || d.Packets != packets || !strings.Contains(d.Reason, reason) {
		t.Errorf("damage %+v, want offset %d, index %d, %d packets, reason containing %q", *d, offset, index, packets, reason)
	}
}

func TestFileSourceCleanEnds(t *testing.T) {
	frames := testFrames(t)
	for name, data := range map[string][]byte{"pcap": writePcap(t, frames), "pcapng": writePcapng(t, frames)} {
		n, err := readAll(t, data)
		if err != io.EOF || n != len(frames) {
			t.Errorf("%s: %d packets, %v; want %d and io.EOF", name, n, err, len(frames))
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(writePcap(t, frames))
	zw.Close()
	if n, err := readAll(t, gz.Bytes()); err != io.EOF || n != len(frames) {
		t.Errorf("gzip pcap: %d packets, %v", n, err)
	}
}

// A pcap cut anywhere inside a record reports the record it cut, and every
// packet before it.
func TestFileSourceTruncatedPcap(t *testing.T) {
	frames := testFrames(t)
	full := writePcap(t, frames)
	offs := pcapOffsets(frames)
	// inside the third record's header, then inside its data
	for _, cut := range []int64{offs[2] + 7, offs[2] + 16 + 3} {
		n, err := readAll(t, full[:cut])
		if n != 2 {
			t.Errorf("cut at %d: %d packets, want 2", cut, n)
		}
		wantDamage(t, err, offs[2], 3, 2, "the file ends")
	}
	// inside the file header: refused outright
	if _, err := capture.NewFileSource(bytes.NewReader(full[:20])); err == nil {
		t.Error("a 20-byte pcap opened")
	}
}

// A record header claiming 0xFFFFFFF0 captured bytes is damage before its
// body is read, whatever snap length the file header declares.
func TestFileSourceHugeCaplen(t *testing.T) {
	frames := testFrames(t)[:2]
	for _, snaplen := range []uint32{65535, 0xFFFFFFFF} {
		data := writePcap(t, frames)
		binary.LittleEndian.PutUint32(data[16:20], snaplen)
		var rec [16]byte
		binary.LittleEndian.PutUint32(rec[8:12], 0xFFFFFFF0)
		binary.LittleEndian.PutUint32(rec[12:16], 0xFFFFFFF0)
		data = append(append(data, rec[:]...), make([]byte, 100)...)
		var n int
		var err error
		alloc := allocated(func() { n, err = readAll(t, data) })
		if n != 2 {
			t.Errorf("snaplen %#x: %d packets, want 2", snaplen, n)
		}
		wantDamage(t, err, pcapOffsets(frames)[2], 3, 2, "4294967280 captured bytes")
		if alloc > 1<<20 {
			t.Errorf("snaplen %#x: %d bytes allocated for a %d-byte file", snaplen, alloc, len(data))
		}
	}
}

// A captured length above the original length is what pcapgo refuses, not
// the framing: it is reported at the record pcapgo was reading.
func TestFileSourceCaplenAboveLength(t *testing.T) {
	frames := testFrames(t)[:3]
	data := writePcap(t, frames)
	offs := pcapOffsets(frames)
	binary.LittleEndian.PutUint32(data[offs[1]+12:], 1) // the second record's original length
	n, err := readAll(t, data)
	if n != 1 {
		t.Errorf("%d packets, want 1", n)
	}
	wantDamage(t, err, offs[1], 2, 1, "original packet length")
}

// pcapngBlocks returns the offset of each block of a pcapng file.
func pcapngBlocks(t *testing.T, data []byte) []int64 {
	var offs []int64
	for off := int64(0); off < int64(len(data)); {
		offs = append(offs, off)
		l := binary.LittleEndian.Uint32(data[off+4:])
		if l < 12 {
			t.Fatalf("block at %d: length %d", off, l)
		}
		off += int64(l)
	}
	return offs
}

// A pcapng block claiming 2 GiB is damage at that block, found from its
// header alone: nothing near 2 GiB is read or allocated.
func TestFileSourcePcapngHugeBlock(t *testing.T) {
	frames := testFrames(t)[:2]
	data := writePcapng(t, frames)
	blocks := pcapngBlocks(t, data) // section header, interface, two packets
	at := int64(len(data))
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[0:4], 6) // enhanced packet block
	binary.LittleEndian.PutUint32(hdr[4:8], 1<<31)
	data = append(append(data, hdr[:]...), make([]byte, 64)...)
	var n int
	var err error
	alloc := allocated(func() { n, err = readAll(t, data) })
	if n != 2 {
		t.Errorf("%d packets, want 2", n)
	}
	wantDamage(t, err, at, len(blocks)+1, 2, "2147483648 bytes")
	if alloc > 1<<20 {
		t.Errorf("%d bytes allocated for a %d-byte file", alloc, len(data))
	}
}

func TestFileSourcePcapngDamage(t *testing.T) {
	frames := testFrames(t)[:3]
	full := writePcapng(t, frames)
	blocks := pcapngBlocks(t, full)
	last := blocks[len(blocks)-1]
	// cut inside the last packet block
	n, err := readAll(t, full[:last+20])
	if n != 2 {
		t.Errorf("cut: %d packets, want 2", n)
	}
	wantDamage(t, err, last, len(blocks), 2, "the file ends 20 bytes into a block")
	// a length that is not a multiple of 4
	bad := bytes.Clone(full)
	binary.LittleEndian.PutUint32(bad[last+4:], 33)
	n, err = readAll(t, bad)
	if n != 2 {
		t.Errorf("odd length: %d packets, want 2", n)
	}
	wantDamage(t, err, last, len(blocks), 2, "length of 33")
	// a second section header with a byte-order magic that is neither
	bad = append(bytes.Clone(full), 0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4)
	n, err = readAll(t, bad)
	if n != 3 {
		t.Errorf("bad section: %d packets, want 3", n)
	}
	wantDamage(t, err, int64(len(full)), len(blocks)+1, 3, "byte-order magic")
}

func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzFileSource: any bytes either open as a capture or are refused; an
// open one yields packets that fit in the file and ends in io.EOF or a
// damage report that points inside the file.
func FuzzFileSource(f *testing.F) {
	frames := testFrames(f)
	pcap := writePcap(f, frames)
	ng := writePcapng(f, frames)
	f.Add(pcap)
	f.Add(pcap[:len(pcap)-3])
	f.Add(ng)
	f.Add(ng[:len(ng)-9])
	huge := bytes.Clone(pcap[:24+16+len(frames[0])])
	huge = append(huge, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 0xf0, 0xff, 0xff, 0xff)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := capture.NewFileSource(bytes.NewReader(data))
		if err != nil {
			return
		}
		total := 0
		for i := 0; ; i++ {
			p, err := src.ReadPacket()
			if err == io.EOF {
				return
			}
			if err != nil {
				var d *capture.DamagedError
				if !errors.As(err, &d) {
					t.Fatalf("error %v is not a *DamagedError", err)
				}
				if d.Offset < 0 || d.Offset > int64(len(data)) && data[0] != 0x1f || d.Packets != i || d.Index < 1 {
					t.Fatalf("damage %+v after %d packets in %d bytes", *d, i, len(data))
				}
				if _, again := src.ReadPacket(); again != err {
					t.Fatalf("after damage: %v", again)
				}
				return
			}
			total += len(p.Data)
			if i > len(data) || (data[0] != 0x1f && total > len(data)) {
				t.Fatalf("%d packets, %d bytes from %d bytes", i+1, total, len(data))
			}
		}
	})
}
