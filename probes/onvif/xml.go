package onvif

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// Bounds on one parsed response, on top of the byte cap of the transport.
const (
	maxDepth    = 48
	maxElements = 8192
	maxText     = 8 << 10
)

var errTooComplex = errors.New("response too deeply nested or too many elements")

// node is one element of a parsed SOAP message; only local names are used.
type node struct {
	name xml.Name
	text strings.Builder
	kids []*node
	up   *node
}

func parseTree(b []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	// Cameras declare charsets we have no table for; values are cleaned
	// into facts later, so take the bytes as they are.
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
				return nil, errTooComplex
			}
			n := &node{name: t.Name, up: cur}
			cur.kids = append(cur.kids, n)
			cur = n
		case xml.EndElement:
			depth--
			if cur.up != nil {
				cur = cur.up
			}
		case xml.CharData:
			if cur.text.Len()+len(t) <= maxText {
				cur.text.Write(t)
			}
		}
	}
	if len(root.kids) == 0 {
		return nil, errors.New("no root element")
	}
	return root.kids[0], nil
}

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

func (n *node) path(locals ...string) *node {
	for _, l := range locals {
		n = n.child(l)
	}
	return n
}

func (n *node) str() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.text.String())
}

// find returns the first element named local anywhere below n (depth
// first), for fields whose position firmwares disagree on.
func (n *node) find(local string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name.Local == local {
			return k
		}
		if f := k.find(local); f != nil {
			return f
		}
	}
	return nil
}
