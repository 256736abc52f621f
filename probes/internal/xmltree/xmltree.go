package xmltree

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Default limits, used for zero fields of Limits. They fit one WS-Discovery
// datagram (UDP caps it at 64 KiB); an ONVIF client reading larger
// responses sets its own.
const (
	DefaultMaxBytes    = 64 << 10
	DefaultMaxDepth    = 32
	DefaultMaxElements = 4096
	DefaultMaxText     = 8 << 10
)

// Limits bound one Parse. A zero field takes its Default value.
type Limits struct {
	// MaxBytes: longer input is refused with ErrTooLarge before decoding.
	MaxBytes int
	// MaxDepth: an element nested deeper than this fails the parse
	// (ErrTooComplex); the root element is at depth 1.
	MaxDepth int
	// MaxElements: more start elements than this in the whole input fail
	// the parse (ErrTooComplex).
	MaxElements int
	// MaxText: an element keeps at most this many bytes of its own
	// character data. A chunk of text that would take it past the cap is
	// dropped whole rather than cut, and does not fail the parse.
	MaxText int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	if l.MaxText <= 0 {
		l.MaxText = DefaultMaxText
	}
	return l
}

// Errors a caller can test with errors.Is; Parse wraps them with the cap
// that was hit. XML syntax errors come back as encoding/xml reports them.
var (
	ErrTooLarge   = errors.New("xml input too large")
	ErrTooComplex = errors.New("xml too deeply nested or too many elements")
	ErrNoRoot     = errors.New("no root element")
)

// Node is one element. Only its name, its own trimmed text, its child
// elements and the namespace prefixes it declares are kept. Methods are
// nil-safe, so a chain of lookups through missing elements ends in "" rather
// than a panic.
type Node struct {
	name   xml.Name
	text   strings.Builder
	kids   []*Node
	parent *Node
	ns     map[string]string // prefix ("" for the default namespace) -> URI
}

// Parse reads b into a tree of elements within lim and returns the first
// top-level element.
func Parse(b []byte, lim Limits) (*Node, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxBytes)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	// Devices declare charsets we have no table for; values are cleaned
	// into facts later, so read the bytes as they are rather than fail.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	root := &Node{}
	cur := root
	depth, count := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			count++
			if depth > lim.MaxDepth {
				return nil, fmt.Errorf("%w: depth over %d", ErrTooComplex, lim.MaxDepth)
			}
			if count > lim.MaxElements {
				return nil, fmt.Errorf("%w: over %d elements", ErrTooComplex, lim.MaxElements)
			}
			n := &Node{name: t.Name, parent: cur}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					n.declare(a.Name.Local, a.Value)
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					n.declare("", a.Value)
				}
			}
			cur.kids = append(cur.kids, n)
			cur = n
		case xml.EndElement:
			depth--
			if cur.parent != nil {
				cur = cur.parent
			}
		case xml.CharData:
			if cur.text.Len()+len(t) <= lim.MaxText {
				cur.text.Write(t)
			}
		}
	}
	if len(root.kids) == 0 {
		return nil, ErrNoRoot
	}
	// Detach the synthetic document node so Resolve stops at the root.
	top := root.kids[0]
	top.parent = nil
	return top, nil
}

func (n *Node) declare(prefix, uri string) {
	if n.ns == nil {
		n.ns = map[string]string{}
	}
	n.ns[prefix] = uri
}

// Name is the element's name as encoding/xml reports it: Local is the
// local name, Space the namespace URI (or the bare prefix when undeclared).
func (n *Node) Name() xml.Name {
	if n == nil {
		return xml.Name{}
	}
	return n.name
}

// Kids are the child elements in document order. Read-only.
func (n *Node) Kids() []*Node {
	if n == nil {
		return nil
	}
	return n.kids
}

// Child returns the first child with the local name, or nil.
func (n *Node) Child(local string) *Node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name.Local == local {
			return k
		}
	}
	return nil
}

// Children returns every child with the local name.
func (n *Node) Children(local string) []*Node {
	if n == nil {
		return nil
	}
	var out []*Node
	for _, k := range n.kids {
		if k.name.Local == local {
			out = append(out, k)
		}
	}
	return out
}

// Path follows local names down from n, taking the first match at each
// step; nil when any step is missing.
func (n *Node) Path(locals ...string) *Node {
	for _, l := range locals {
		n = n.Child(l)
	}
	return n
}

// Find returns the first element named local anywhere below n, in document
// order, for fields whose position firmwares disagree on.
func (n *Node) Find(local string) *Node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name.Local == local {
			return k
		}
		if f := k.Find(local); f != nil {
			return f
		}
	}
	return nil
}

// Text is the element's own character data (not its descendants'),
// trimmed of surrounding white space; "" for a missing element.
func (n *Node) Text() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.text.String())
}

// Resolve maps a namespace prefix ("" for the default namespace) to the
// URI declared for it in scope at n: on n itself or its nearest ancestor
// that declares it.
func (n *Node) Resolve(prefix string) (string, bool) {
	for ; n != nil; n = n.parent {
		if uri, ok := n.ns[prefix]; ok {
			return uri, true
		}
	}
	return "", false
}

// QName resolves QName text such as "dn:NetworkVideoTransmitter" in the
// scope of n; an unprefixed name takes the default namespace, and an
// undeclared prefix leaves Space empty.
func (n *Node) QName(q string) xml.Name {
	prefix, local, ok := strings.Cut(q, ":")
	if !ok {
		prefix, local = "", q
	}
	uri, _ := n.Resolve(prefix)
	return xml.Name{Space: uri, Local: local}
}
