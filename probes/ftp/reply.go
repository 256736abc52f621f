package ftp

import (
	"errors"
	"strconv"
	"strings"
)

// Bounds on one greeting.
const (
	MaxRead  = 4 << 10 // raw bytes read at most
	MaxLines = 32      // lines of a multi-line reply kept
)

// ErrNotFTP is returned when the first bytes are not an FTP reply code.
var ErrNotFTP = errors.New("not an FTP reply")

// Reply is a parsed FTP reply (RFC 959 section 4.2): a three-digit code and
// its text, the lines of a multi-line reply joined by single spaces with the
// code prefixes removed.
type Reply struct {
	Code     int
	Text     string
	Complete bool // the final line arrived; false when b ended first
}

// ParseReply reads the first reply in b, which may be cut short: what has
// arrived is returned with Complete false, so a greeting that never ends
// still yields its first lines. It reads at most MaxRead bytes and MaxLines
// lines of b.
func ParseReply(b []byte) (Reply, error) {
	if len(b) > MaxRead {
		b = b[:MaxRead]
	}
	s := string(b)
	if len(s) < 3 || !digits(s[:3]) || (len(s) > 3 && s[3] != ' ' && s[3] != '-' && s[3] != '\r' && s[3] != '\n') {
		return Reply{}, ErrNotFTP
	}
	code, _ := strconv.Atoi(s[:3])
	r := Reply{Code: code}
	multi := len(s) > 3 && s[3] == '-'
	var parts []string
	for n := 0; n < MaxLines && s != ""; n++ {
		line, rest, full := strings.Cut(s, "\n")
		s = rest
		line = strings.TrimSuffix(line, "\r")
		last := !multi && n == 0
		switch {
		case len(line) >= 4 && line[:3] == strconv.Itoa(code) && line[3] == ' ':
			line, last = line[4:], true
		case len(line) == 3 && line == strconv.Itoa(code) && n > 0 && full:
			line, last = "", true
		case len(line) >= 4 && line[:3] == strconv.Itoa(code) && line[3] == '-':
			line = line[4:]
		case n == 0:
			line = line[3:] // "220" alone
		}
		parts = append(parts, line)
		if last && full {
			r.Complete = true
			break
		}
		if !full {
			break
		}
	}
	r.Text = strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
	return r, nil
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
