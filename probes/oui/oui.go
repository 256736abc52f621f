package oui

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"iter"
	"net"
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

type table struct {
	entries []Entry
	// One map per prefix length, keyed by the prefix bits right-aligned, so
	// a lookup is at most three map probes and no allocation.
	l24    map[uint32]int32
	l28    map[uint32]int32
	l36    map[uint64]int32
	counts Counts
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
	t := &table{
		l24: make(map[uint32]int32, 40000),
		l28: make(map[uint32]int32, 7000),
		l36: make(map[uint64]int32, 7500),
	}
	orgs := map[string]string{} // intern: many prefixes share one registrant
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	line := 0
	for sc.Scan() {
		line++
		hexs, rest, ok1 := strings.Cut(sc.Text(), "\t")
		bitsS, org, ok2 := strings.Cut(rest, "\t")
		bits, err := strconv.Atoi(bitsS)
		if !ok1 || !ok2 || err != nil || len(hexs)*4 != bits || org == "" {
			return nil, fmt.Errorf("oui: table line %d: malformed %q", line, sc.Text())
		}
		v, err := strconv.ParseUint(hexs, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("oui: table line %d: prefix %q: %w", line, hexs, err)
		}
		if o, ok := orgs[org]; ok {
			org = o
		} else {
			orgs[org] = org
		}
		idx := int32(len(t.entries))
		t.entries = append(t.entries, Entry{Prefix: colon(hexs), Bits: bits, Org: org})
		switch bits {
		case 24:
			t.l24[uint32(v)] = idx
			t.counts.MAL++
		case 28:
			t.l28[uint32(v)] = idx
			t.counts.MAM++
		case 36:
			t.l36[v] = idx
			t.counts.MAS++
		default:
			return nil, fmt.Errorf("oui: table line %d: %d bits, want 24, 28 or 36", line, bits)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("oui: table line %d: %w", line+1, err)
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("oui: table is empty")
	}
	return t, nil
}

// colon writes "4419B6" as "44:19:B6" and "B0B3536" as "B0:B3:53:6".
func colon(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i:min(i+2, len(h))])
	}
	return b.String()
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
	if i, ok := t.l36[p36]; ok {
		return t.entries[i], true
	}
	if i, ok := t.l28[p24<<4|uint32(mac[3]>>4)]; ok {
		return t.entries[i], true
	}
	if i, ok := t.l24[p24]; ok {
		return t.entries[i], true
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
		for _, e := range t.entries {
			if !yield(e) {
				return
			}
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
