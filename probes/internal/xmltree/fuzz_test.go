package xmltree

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// small caps make the fuzzer hit every limit often.
var small = Limits{MaxBytes: 512, MaxDepth: 4, MaxElements: 16, MaxText: 24}

// FuzzParse: no panic; an accepted tree stays within its limits; lookups
// agree with each other; and tighter limits never accept what looser ones
// refuse, nor read the same input differently.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<a xmlns="urn:d" xmlns:p="urn:p"><p:b>t</p:b><c xmlns:p="urn:q">p:x y z:w</c></a>`))
	f.Add([]byte(nested(5)))
	f.Add([]byte("<r>" + strings.Repeat("<i/>", 16) + "</r>"))
	f.Add([]byte(`<?xml version="1.0" encoding="GB2312"?><r>` + strings.Repeat("0123456789", 3) + `</r>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		loose, lerr := Parse(b, Limits{})
		tight, terr := Parse(b, small)
		if lerr != nil && terr == nil {
			t.Fatalf("small limits accepted what defaults refused: %v", lerr)
		}
		if loose != nil {
			check(t, loose, Limits{}.withDefaults())
		}
		if tight == nil {
			if terr == nil {
				t.Fatal("nil tree without error")
			}
			return
		}
		if len(b) > small.MaxBytes {
			t.Fatalf("%d bytes accepted", len(b))
		}
		check(t, tight, small)
		// Same structure under both limits, texts aside (MaxText differs).
		if shape(tight) != shape(loose) {
			t.Fatalf("limits changed the tree:\n%s\n%s", shape(tight), shape(loose))
		}
	})
}

// check walks n and fails on anything over lim or lookups that disagree.
func check(t *testing.T, root *Node, lim Limits) {
	t.Helper()
	count := 0
	var walk func(n *Node, depth int)
	walk = func(n *Node, depth int) {
		count++
		if depth > lim.MaxDepth {
			t.Fatalf("element at depth %d", depth)
		}
		if n.text.Len() > lim.MaxText {
			t.Fatalf("%d bytes of text kept", n.text.Len())
		}
		for _, k := range n.Kids() {
			if k.parent != n {
				t.Fatal("broken parent link")
			}
			local := k.Name().Local
			if n.Child(local) == nil || n.Find(local) == nil || len(n.Children(local)) == 0 {
				t.Fatalf("child %q not found by its name", local)
			}
			if p, _, ok := strings.Cut(local, ":"); ok {
				_, _ = k.Resolve(p)
			}
			_ = k.QName(k.Text())
			walk(k, depth+1)
		}
	}
	walk(root, 1)
	if count > lim.MaxElements {
		t.Fatalf("%d elements", count)
	}
}

func shape(n *Node) string {
	var b strings.Builder
	var walk func(*Node)
	walk = func(n *Node) {
		b.WriteString("<" + n.Name().Space + "|" + n.Name().Local + ">")
		for _, k := range n.Kids() {
			walk(k)
		}
		b.WriteString("/")
	}
	walk(n)
	return b.String()
}
