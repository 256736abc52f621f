package httpprobe

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
)

// Answer is what the prober compares between a vendor path's reply and the
// baseline: the reply to a path that cannot exist.
type Answer struct {
	Status   int
	Scheme   string // auth scheme of a 401's first challenge ("Digest", "Basic")
	Realm    string // its realm
	Shape    string // BodyShape of the body
	Len      int    // body bytes read (at most MaxBody)
	Sum      string // first 16 hex digits of the body's SHA-256
	Location string // path of a 3xx's Location, query dropped
}

// BaselinePath returns a fresh path no device serves: "/cw-" and 16 random
// hex digits. It looks like a page name, not like any vendor's API.
func BaselinePath() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return "/cw-" + hex.EncodeToString(b[:])
}

// AnswerOf summarises one reply.
func AnswerOf(h Head, body []byte) Answer {
	sum := sha256.Sum256(body)
	a := Answer{Status: h.Status, Shape: BodyShape(body), Len: len(body), Sum: hex.EncodeToString(sum[:8])}
	if h.Status == 401 {
		for _, v := range h.Values("WWW-Authenticate") {
			if a.Scheme, a.Realm = ParseAuth(v); a.Scheme != "" {
				break
			}
		}
	}
	if h.Status >= 300 && h.Status < 400 {
		a.Location = locationPath(h.Get("Location"))
	}
	return a
}

// locationPath keeps the path of a redirect target: servers that send every
// unknown path to their login page often quote the asked path in the query.
func locationPath(loc string) string {
	if len(loc) > 2048 {
		return ""
	}
	if u, err := url.Parse(loc); err == nil {
		return u.Host + u.Path
	}
	p, _, _ := strings.Cut(loc, "?")
	return p
}

// Differs reports whether a is another kind of answer than b: another
// status, another challenge, another kind of document or another redirect
// target. Bodies of the same kind are not compared byte for byte, because
// many servers quote the asked path in their error pages.
func (a Answer) Differs(b Answer) bool {
	return a.Status != b.Status || !strings.EqualFold(a.Scheme, b.Scheme) || a.Realm != b.Realm ||
		a.Shape != b.Shape || a.Location != b.Location
}

// Counts reports whether a, the answer on a vendor path, is evidence the
// server knows that path: it differs from the baseline and is neither a
// "not found" nor a redirect (servers send unknown paths to their login
// page with the path in the target, so redirects differ without meaning).
func (a Answer) Counts(baseline Answer) bool {
	return a.Status != 404 && a.Status != 410 && (a.Status < 300 || a.Status >= 400) && a.Differs(baseline)
}

// String is the <prefix>.baseline fact:
// "<status> <shape> len=<n> sum=<hex>[ location=<path>][ auth=<scheme> realm=<realm>]".
// The realm comes last because it may hold spaces.
func (a Answer) String() string {
	s := strconv.Itoa(a.Status) + " " + a.Shape + " len=" + strconv.Itoa(a.Len) + " sum=" + a.Sum
	if a.Location != "" {
		s += " location=" + a.Location
	}
	if a.Scheme != "" {
		s += " auth=" + a.Scheme + " realm=" + a.Realm
	}
	return s
}

// faviconOf returns the icon of a /favicon.ico reply when it is one: a
// complete 200 whose body is an image (binary, or SVG) and not the page the
// server sends for any path.
func faviconOf(r reply, baseline Answer) ([]byte, bool) {
	if r.cut || r.head.Status != 200 || len(r.body) == 0 {
		return nil, false
	}
	a := AnswerOf(r.head, r.body)
	if a.Shape != "binary" && !strings.HasPrefix(a.Shape, "xml:") {
		return nil, false
	}
	if baseline.Status == 200 && baseline.Sum == a.Sum {
		return nil, false
	}
	return r.body, true
}
