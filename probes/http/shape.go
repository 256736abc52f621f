package httpprobe

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Bounds on a body shape: it names the document, it does not copy it.
const (
	maxShapeKeys   = 8   // JSON top-level keys listed
	maxShapeKeyLen = 32  // bytes of one key or element name
	maxShapeNSLen  = 128 // bytes of an XML namespace URI
	maxXMLTokens   = 64  // tokens read before giving up on finding the root
)

// BodyShape names what kind of document a body is, so an answer on a vendor
// API path can be told apart from the page a server sends for any path:
//
//	empty                    nothing but white space
//	json:<k1>,<k2>,...       a JSON object: its top-level keys, sorted, at most 8
//	json:array, json:value   other JSON
//	xml:<namespace>          an XML document whose root declares a namespace
//	xml:<root element>       an XML document without one
//	html                     an HTML page
//	binary                   bytes that are not text (an image)
//	text                     anything else
//
// The result is stable for a given body and never longer than a few hundred
// bytes, whatever the body holds.
func BodyShape(body []byte) string {
	b := bytes.TrimSpace(body)
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	switch {
	case len(b) == 0:
		return "empty"
	case bytes.IndexByte(b[:min(len(b), 512)], 0) >= 0:
		return "binary"
	case b[0] == '{':
		if s, ok := jsonObjectShape(b); ok {
			return s
		}
	case b[0] == '[':
		if json.Valid(b) {
			return "json:array"
		}
	case b[0] == '<':
		if s, ok := markupShape(b); ok {
			return s
		}
	}
	if looksHTML(b) {
		return "html"
	}
	if !textPrefix(b[:min(len(b), 512)], len(b) > 512) {
		return "binary"
	}
	return "text"
}

// textPrefix reports whether p is UTF-8; when p was cut from a longer body,
// a rune split at the cut does not count against it.
func textPrefix(p []byte, cut bool) bool {
	for i := 0; i < 4 && len(p) > 0; i++ {
		if utf8.Valid(p) {
			return true
		}
		if !cut {
			return false
		}
		p = p[:len(p)-1]
	}
	return false
}

// jsonObjectShape lists the top-level keys of a JSON object. A body cut short
// by MaxBody still names the keys read before the cut.
func jsonObjectShape(b []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		k, ok := t.(string)
		if !ok {
			break
		}
		k = shapeToken(k, maxShapeKeyLen)
		if k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	if len(keys) == 0 {
		if json.Valid(b) {
			return "json:", true // {}
		}
		return "", false
	}
	slices.Sort(keys)
	if len(keys) > maxShapeKeys {
		keys = keys[:maxShapeKeys]
	}
	return "json:" + strings.Join(keys, ","), true
}

// markupShape finds the root element of an XML or HTML document.
func markupShape(b []byte) (string, bool) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	// Devices declare GB2312 or ISO-8859-1; element names we care about are
	// ASCII either way, so the bytes are read as they are.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	for range maxXMLTokens {
		t, err := dec.RawToken()
		if err != nil {
			return "", false
		}
		switch t := t.(type) {
		case xml.Directive:
			if d := strings.ToLower(string(t)); strings.HasPrefix(d, "doctype html") {
				return "html", true
			}
		case xml.StartElement:
			local := strings.ToLower(t.Name.Local)
			if local == "html" || local == "head" || local == "body" || local == "title" {
				return "html", true
			}
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local == "xmlns" {
					if ns := shapeToken(a.Value, maxShapeNSLen); ns != "" {
						return "xml:" + ns, true
					}
				}
			}
			if n := shapeToken(t.Name.Local, maxShapeKeyLen); n != "" {
				return "xml:" + n, true
			}
			return "", false
		}
	}
	return "", false
}

// looksHTML reports an HTML page that did not parse as markup from its first
// byte (leading text, broken tags).
func looksHTML(b []byte) bool {
	head := asciiLower(b[:min(len(b), 1024)])
	for _, tag := range []string{"<html", "<head", "<body", "<title", "<!doctype html", "<script", "<meta"} {
		if bytes.Contains(head, []byte(tag)) {
			return true
		}
	}
	return false
}

// shapeToken keeps the printable, space-free ASCII of s, cut to n bytes, so a
// shape stays one word a rule can match.
func shapeToken(s string, n int) string {
	var sb strings.Builder
	for i := 0; i < len(s) && sb.Len() < n; i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != ',' {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
