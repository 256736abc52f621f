package httpprobe

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/spaolacci/murmur3"
)

// The mmh3 package's own documentation (pypi.org/project/mmh3, README
// "Basic usage") publishes mmh3.hash(b"foo") == -156908512: the 32-bit x86
// MurmurHash3 with seed 0 as a signed integer, which is what Shodan's
// favicon hash applies to the base64 text.
func TestMurmurPublishedPair(t *testing.T) {
	if got := int32(murmur3.Sum32([]byte("foo"))); got != -156908512 {
		t.Fatalf("mmh3(foo) = %d, want -156908512", got)
	}
}

// encodeBytes must lay out lines exactly as CPython's base64.encodebytes
// (Lib/base64.py: MAXBINSIZE 57 input bytes, so 76 characters, per line, each
// line ending in "\n"); these expected strings are its output.
func TestEncodeBytesLikePython(t *testing.T) {
	cases := []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{[]byte("x"), "eA==\n"},
		{bytes.Repeat([]byte("x"), 57), "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4\n"},
		{bytes.Repeat([]byte("x"), 100), "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4\neHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA==\n"},
	}
	for _, c := range cases {
		if got := string(encodeBytes(c.in)); got != c.want {
			t.Errorf("encodeBytes(%d bytes) = %q, want %q", len(c.in), got, c.want)
		}
	}
}

// The favicon hash is the murmur of that layout, not of plain base64: the
// two differ as soon as the icon is longer than one line.
func TestFaviconMMH3(t *testing.T) {
	icon := bytes.Repeat([]byte{0, 0, 1, 0, 0xff}, 40)
	want := strconv.Itoa(int(int32(murmur3.Sum32(encodeBytes(icon)))))
	if got := FaviconMMH3(icon); got != want {
		t.Fatalf("FaviconMMH3 = %s, want %s", got, want)
	}
	plain := strconv.Itoa(int(int32(murmur3.Sum32([]byte(base64.StdEncoding.EncodeToString(icon))))))
	if plain == want {
		t.Fatal("line layout made no difference; the test proves nothing")
	}
	if got := FaviconMD5([]byte("foo")); got != "acbd18db4cc2f85cedef654fccc4a4d8" {
		t.Fatalf("md5(foo) = %s", got) // what md5sum prints for "foo"
	}
}
