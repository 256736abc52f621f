package oui

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"iter"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed oui.tsv.gz
var tableGz []byte

// Entry is one registry assignment.
type Entry struct {
	// Prefix is the assigned prefix in the usual colon notation, upper case:
	// "44:19:B6" (MA-L), "B0:B3:53:6" (MA-M), "8C:1F:64:12:3" (MA-S).
	Prefix string
	Bits   int    // 24, 28 or 36
	Org    string // registrant organisation exactly as the IEEE lists it
}

// Counts is how many assignments of each size the table holds.
type Counts struct{ MAL, MAM, MAS int }

// table is the registry held compactly, searched in place: one sorted
// key array per prefix length with a 16-bit organisation index beside it,
// and the ~30,000 distinct organisation names in one string. Building
// Entry values (and 53,000 map entries) for everything cost about 5 MB of
// heap for the daemon's whole life; this is about 1.3 MB.
type table struct {
	k24, k28 []uint32
	k36      []uint64
	// o24, o28 and o36 are the organisation index of each key.
	o24, o28, o36 []uint16
	orgs          string   // every organisation name, back to back
	orgEnd        []uint32 // orgs[orgEnd[i-1]:orgEnd[i]] is name i
	// order is the length class (0: 24, 1: 28, 2: 36 bits) of each line
	// in file (prefix) order, so All can interleave the three arrays.
	order  []uint8
	counts Counts
}

func (t *table) org(i uint16) string {
	start := uint32(0)
	if i > 0 {
		start = t.orgEnd[i-1]
	}
	return t.orgs[start:t.orgEnd[i]]
}

// load parses the embedded table once; the ~600 kB gzip is only expanded by
// the first caller, so binaries that never classify pay nothing.
var load = sync.OnceValues(func() (*table, error) { return parse(tableGz) })

// Load parses the embedded table now and reports whether it is usable. The
// other functions call it implicitly; call it at start-up to fail early.
func Load() error {
	_, err := load()
	return err
}

func parse(gz []byte) (*table, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("oui: table: %w", err)
	}
	// Sized for the current registry and read line by line as bytes: the
	// parse's garbage is the daemon's start-up peak, and the runtime is
	// slow to hand such a peak back to the OS.
	t := &table{k24: make([]uint32, 0, 40000), o24: make([]uint16, 0, 40000), order: make([]uint8, 0, 56000)}
	orgIdx := make(map[string]uint16, 32000) // only while parsing
	var orgs strings.Builder
	orgs.Grow(800_000)
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	line := 0
	for sc.Scan() {
		line++
		hexb, rest, ok1 := bytes.Cut(sc.Bytes(), []byte{'\t'})
		bitsB, org, ok2 := bytes.Cut(rest, []byte{'\t'})
		bits, err := strconv.Atoi(string(bitsB))
		if !ok1 || !ok2 || err != nil || len(hexb)*4 != bits || len(org) == 0 {
			return nil, fmt.Errorf("oui: table line %d: malformed %q", line, sc.Text())
		}
		v, err := strconv.ParseUint(string(hexb), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("oui: table line %d: prefix %q: %w", line, hexb, err)
		}
		oi, ok := orgIdx[string(org)]
		if !ok {
			if len(orgIdx) > math.MaxUint16 {
				return nil, fmt.Errorf("oui: table line %d: more than %d organisations", line, math.MaxUint16+1)
			}
			oi = uint16(len(orgIdx))
			orgIdx[string(org)] = oi
			orgs.Write(org)
			t.orgEnd = append(t.orgEnd, uint32(orgs.Len()))
		}
		// Keys must ascend within each length for the binary search; the
		// generator writes the file sorted, and a table that is not is
		// refused rather than searched wrongly.
		unsorted := false
		switch bits {
		case 24:
			unsorted = len(t.k24) > 0 && t.k24[len(t.k24)-1] >= uint32(v)
			t.k24, t.o24 = append(t.k24, uint32(v)), append(t.o24, oi)
			t.order = append(t.order, 0)
			t.counts.MAL++
		case 28:
			unsorted = len(t.k28) > 0 && t.k28[len(t.k28)-1] >= uint32(v)
			t.k28, t.o28 = append(t.k28, uint32(v)), append(t.o28, oi)
			t.order = append(t.order, 1)
			t.counts.MAM++
		case 36:
			unsorted = len(t.k36) > 0 && t.k36[len(t.k36)-1] >= v
			t.k36, t.o36 = append(t.k36, v), append(t.o36, oi)
			t.order = append(t.order, 2)
			t.counts.MAS++
		default:
			return nil, fmt.Errorf("oui: table line %d: %d bits, want 24, 28 or 36", line, bits)
		}
		if unsorted {
			return nil, fmt.Errorf("oui: table line %d: prefix %s out of order", line, hexb)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("oui: table line %d: %w", line+1, err)
	}
	if len(t.order) == 0 {
		return nil, fmt.Errorf("oui: table is empty")
	}
	t.orgs = orgs.String()
	// Trim append's spare capacity: the table lives as long as the process.
	t.k24, t.k28, t.k36 = slices.Clone(t.k24), slices.Clone(t.k28), slices.Clone(t.k36)
	t.o24, t.o28, t.o36 = slices.Clone(t.o24), slices.Clone(t.o28), slices.Clone(t.o36)
	t.orgEnd, t.order = slices.Clone(t.orgEnd), slices.Clone(t.order)
	return t, nil
}

func (t *table) entry(class uint8, i int) Entry {
	switch class {
	case 0:
		return Entry{Prefix: colonHex(uint64(t.k24[i]), 6), Bits: 24, Org: t.org(t.o24[i])}
	case 1:
		return Entry{Prefix: colonHex(uint64(t.k28[i]), 7), Bits: 28, Org: t.org(t.o28[i])}
	default:
		return Entry{Prefix: colonHex(t.k36[i], 9), Bits: 36, Org: t.org(t.o36[i])}
	}
}

// colonHex writes the low digits hex digits of v in colon notation
// ("44:19:B6"), in one allocation: Lookup runs for every classification.
func colonHex(v uint64, digits int) string {
	const hexDigits = "0123456789ABCDEF"
	var b [9 + 4]byte
	n := 0
	for i := range digits {
		if i > 0 && i%2 == 0 {
			b[n] = ':'
			n++
		}
		b[n] = hexDigits[(v>>(4*(digits-1-i)))&0xf]
		n++
	}
	return string(b[:n])
}

// Lookup returns the most specific assignment covering mac: an MA-S (36-bit)
// block first, then MA-M (28-bit), then MA-L (24-bit). Locally administered
// and multicast addresses are nobody's registration and give false, as do
// addresses that are not 48- or 64-bit.
func Lookup(mac net.HardwareAddr) (Entry, bool) {
	if len(mac) != 6 && len(mac) != 8 {
		return Entry{}, false
	}
	if mac[0]&0x03 != 0 { // 0x02 locally administered, 0x01 group address
		return Entry{}, false
	}
	t, err := load()
	if err != nil {
		return Entry{}, false
	}
	p24 := uint32(mac[0])<<16 | uint32(mac[1])<<8 | uint32(mac[2])
	p36 := uint64(p24)<<12 | uint64(mac[3])<<4 | uint64(mac[4]>>4)
	if i, ok := slices.BinarySearch(t.k36, p36); ok {
		return t.entry(2, i), true
	}
	if i, ok := slices.BinarySearch(t.k28, p24<<4|uint32(mac[3]>>4)); ok {
		return t.entry(1, i), true
	}
	if i, ok := slices.BinarySearch(t.k24, p24); ok {
		return t.entry(0, i), true
	}
	return Entry{}, false
}

// All yields every assignment in prefix order; nothing if the table failed
// to load (see Load).
func All() iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		t, err := load()
		if err != nil {
			return
		}
		var next [3]int
		for _, c := range t.order {
			if !yield(t.entry(c, next[c])) {
				return
			}
			next[c]++
		}
	}
}

// Size reports how many assignments of each length the table holds.
func Size() Counts {
	t, err := load()
	if err != nil {
		return Counts{}
	}
	return t.counts
}
