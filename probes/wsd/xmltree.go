package wsd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Bounds on one message. A WS-Discovery datagram is at most 64 KiB by UDP;
// the element limits stop a small but deeply nested or very wide message
// from costing much.
const (
	MaxMessage  = 64 << 10
	maxDepth    = 32
	maxElements = 4096
	maxText     = 8 << 10
)

var (
	// ErrTooLarge is returned for messages over MaxMessage bytes.
	ErrTooLarge = errors.New("message too large")
	// ErrTooComplex is returned when a message nests too deep or has too many elements.
	ErrTooComplex = errors.New("message too deeply nested or too many elements")
	// ErrNotSOAP is returned when the XML is not a SOAP envelope with a body.
	ErrNotSOAP = errors.New("not a SOAP envelope")
)

// node is one element of a parsed message. ns holds the namespace prefixes
// declared on it, so QName text (the Types list) can be resolved.
type node struct {
	name   xml.Name
	text   strings.Builder
	kids   []*node
	parent *node
	ns     map[string]string
}

// parseTree reads b into a tree of elements, bounded in size and shape.
func parseTree(b []byte) (*node, error) {
	if len(b) > MaxMessage {
		return nil, ErrTooLarge
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	// Devices declare charsets we have no table for; facts are cleaned
	// later, so read the bytes as they are rather than fail.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	root := &node{}
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
			if depth > maxDepth || count > maxElements {
				return nil, ErrTooComplex
			}
			n := &node{name: t.Name, parent: cur}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					if n.ns == nil {
						n.ns = map[string]string{}
					}
					n.ns[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					if n.ns == nil {
						n.ns = map[string]string{}
					}
					n.ns[""] = a.Value
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
			if cur.text.Len()+len(t) <= maxText {
				cur.text.Write(t)
			}
		}
	}
	if len(root.kids) == 0 {
		return nil, fmt.Errorf("%w: no root element", ErrNotSOAP)
	}
	return root.kids[0], nil
}

// child returns the first child with the local name.
func (n *node) child(local string) *node {
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

// children returns every child with the local name.
func (n *node) children(local string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, k := range n.kids {
		if k.name.Local == local {
			out = append(out, k)
		}
	}
	return out
}

// path follows local names down from n.
func (n *node) path(locals ...string) *node {
	for _, l := range locals {
		n = n.child(l)
	}
	return n
}

// str is the trimmed text of n, "" for a missing element.
func (n *node) str() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.text.String())
}

// resolve maps a QName prefix to the namespace declared in scope at n.
func (n *node) resolve(prefix string) (string, bool) {
	for ; n != nil; n = n.parent {
		if ns, ok := n.ns[prefix]; ok {
			return ns, true
		}
	}
	return "", false
}
