package httpprobe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"
)

// Bounds on what a device may make us read. A camera's header block is a few
// hundred bytes; a front page that needs more than MaxBody to reach its
// <title> is not one we need to understand.
const (
	MaxHead   = 16 << 10 // status line plus header fields
	MaxFields = 100      // header fields kept
	MaxBody   = 64 << 10 // body bytes read per response
)

// Errors ReadHead returns for a reply that is not a usable HTTP/RTSP head.
var (
	ErrHeadTooLarge = errors.New("header block too large")
	ErrMalformed    = errors.New("malformed response head")
)

// Field is one header field as sent, with the name's case preserved.
type Field struct{ Name, Value string }

// Head is the status line and header fields of an HTTP or RTSP response
// (both use the same message syntax).
type Head struct {
	Proto  string // "HTTP/1.1", "RTSP/1.0"
	Status int
	Reason string
	Fields []Field
}

// Get returns the value of the first field named name, ignoring case.
func (h Head) Get(name string) string {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns every value of fields named name, ignoring case.
func (h Head) Values(name string) []string {
	var v []string
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			v = append(v, f.Value)
		}
	}
	return v
}

// UpperCase reports whether the device wrote its header names in upper case
// (CONTENT-LENGTH:), as Dahua's web server does. Names without letters that
// have a case, and single-letter names, do not count either way; at least
// one name must have a lower-case form.
func (h Head) UpperCase() bool {
	seen := false
	for _, f := range h.Fields {
		if strings.ToLower(f.Name) == f.Name && strings.ToUpper(f.Name) == f.Name {
			continue // no letter has a case, e.g. "123"
		}
		if f.Name != strings.ToUpper(f.Name) {
			return false
		}
		if len(f.Name) > 3 {
			seen = true // short names like "P3P" are upper-case everywhere
		}
	}
	return seen
}

// ParseHead parses a complete head held in b (for tests and fuzzing).
func ParseHead(b []byte) (Head, error) {
	return ReadHead(bufio.NewReader(bytes.NewReader(b)))
}

// ReadHead reads a status line and header fields up to the empty line,
// never more than MaxHead bytes. Bare LF line endings and folded
// continuation lines are accepted, as embedded servers send both.
func ReadHead(br *bufio.Reader) (Head, error) {
	var h Head
	budget := MaxHead
	readLine := func() (string, error) {
		var line []byte
		for {
			frag, err := br.ReadSlice('\n')
			budget -= len(frag)
			if budget < 0 {
				return "", ErrHeadTooLarge
			}
			line = append(line, frag...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				return "", err
			}
			return strings.TrimRight(string(line), "\r\n"), nil
		}
	}
	status, err := readLine()
	if err != nil {
		return h, fmt.Errorf("status line: %w", err)
	}
	proto, rest, ok := strings.Cut(status, " ")
	if !ok || !strings.Contains(proto, "/") || len(proto) > 16 {
		return h, fmt.Errorf("%w: status line %q", ErrMalformed, truncate(status, 64))
	}
	code, reason, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 {
		return h, fmt.Errorf("%w: status code %q", ErrMalformed, truncate(code, 16))
	}
	h.Proto, h.Status, h.Reason = proto, n, reason
	for {
		line, err := readLine()
		if err != nil {
			return h, fmt.Errorf("header: %w", err)
		}
		if line == "" {
			return h, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h.Fields) > 0 {
				h.Fields[len(h.Fields)-1].Value += " " + strings.TrimSpace(line)
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			continue // tolerate junk lines: devices send them
		}
		if len(h.Fields) < MaxFields {
			h.Fields = append(h.Fields, Field{Name: name, Value: strings.TrimSpace(value)})
		}
	}
}

// ParseAuth splits a WWW-Authenticate value into its scheme and realm
// parameter (quoted or token); realm is "" when absent.
func ParseAuth(v string) (scheme, realm string) {
	v = strings.TrimSpace(v)
	scheme, params, _ := strings.Cut(v, " ")
	for params != "" {
		params = strings.TrimLeft(params, " ,\t")
		eq := strings.IndexByte(params, '=')
		if eq < 0 {
			break
		}
		key := strings.TrimSpace(params[:eq])
		params = strings.TrimLeft(params[eq+1:], " \t")
		var val string
		if strings.HasPrefix(params, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(params) && params[i] != '"'; i++ {
				if params[i] == '\\' && i+1 < len(params) {
					i++
				}
				b.WriteByte(params[i])
			}
			val = b.String()
			if i < len(params) {
				i++
			}
			params = params[i:]
		} else {
			end := strings.IndexByte(params, ',')
			if end < 0 {
				end = len(params)
			}
			val, params = strings.TrimSpace(params[:end]), params[end:]
		}
		if strings.EqualFold(key, "realm") {
			return scheme, val
		}
	}
	return scheme, ""
}

// Title returns the text of the first <title> element of an HTML body, with
// entities decoded and white space collapsed; "" when there is none.
func Title(body []byte) string {
	lower := asciiLower(body)
	i := bytes.Index(lower, []byte("<title"))
	if i < 0 {
		return ""
	}
	j := bytes.IndexByte(lower[i:], '>')
	if j < 0 {
		return ""
	}
	start := i + j + 1
	end := bytes.Index(lower[start:], []byte("</title"))
	if end < 0 {
		return ""
	}
	t := html.UnescapeString(string(body[start : start+end]))
	return strings.Join(strings.Fields(t), " ")
}

// asciiLower folds A-Z only, keeping every byte where it was: indices found
// in the result are valid in the original. (bytes.ToLower replaces invalid
// UTF-8 with U+FFFD, which changes lengths: a device's garbage body then
// made Title slice past the end.)
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// XMLNamespaces returns the distinct xmlns URIs declared in body, at most max.
func XMLNamespaces(body []byte, max int) []string {
	var out []string
	rest := body
	for len(out) < max {
		i := bytes.Index(rest, []byte("xmlns"))
		if i < 0 {
			break
		}
		rest = rest[i+len("xmlns"):]
		// xmlns="uri" or xmlns:prefix="uri"
		k := 0
		if k < len(rest) && rest[k] == ':' {
			for k < len(rest) && rest[k] != '=' && rest[k] != ' ' && rest[k] != '>' {
				k++
			}
		}
		if k >= len(rest) || rest[k] != '=' || k+1 >= len(rest) {
			continue
		}
		q := rest[k+1]
		if q != '"' && q != '\'' {
			continue
		}
		end := bytes.IndexByte(rest[k+2:], q)
		if end < 0 {
			break
		}
		uri := string(rest[k+2 : k+2+end])
		if uri != "" && !containsString(out, uri) {
			out = append(out, uri)
		}
		rest = rest[k+2+end:]
	}
	return out
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
