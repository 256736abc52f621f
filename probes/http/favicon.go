package httpprobe

import (
	"crypto/md5" //nolint:gosec // a published fingerprint format, not a security use
	"encoding/base64"
	"encoding/hex"
	"strconv"

	"github.com/spaolacci/murmur3"
)

// FaviconPath is asked once per web server; public fingerprint sets name
// camera web interfaces by the hash of this file.
const FaviconPath = "/favicon.ico"

// FaviconMMH3 is the favicon hash Shodan and nuclei publish: MurmurHash3
// (x86, 32-bit, seed 0) of the icon's base64 text as Python's
// base64.encodebytes writes it (a newline after every 76 characters and at
// the end), as a signed decimal. Any other line layout gives another number,
// so published values only match when this one is exact.
func FaviconMMH3(icon []byte) string {
	return strconv.Itoa(int(int32(murmur3.Sum32(encodeBytes(icon)))))
}

// FaviconMD5 is the hex MD5 of the raw icon, the other form fingerprint
// sets publish.
func FaviconMD5(icon []byte) string {
	sum := md5.Sum(icon) //nolint:gosec // fingerprint, not integrity
	return hex.EncodeToString(sum[:])
}

// encodeBytes is Python's base64.encodebytes: standard alphabet with
// padding, a line feed after each 76 output characters and after the last
// line; nothing at all for empty input.
func encodeBytes(b []byte) []byte {
	const line = 76
	enc := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(enc, b)
	out := make([]byte, 0, len(enc)+len(enc)/line+1)
	for len(enc) > line {
		out = append(out, enc[:line]...)
		out = append(out, '\n')
		enc = enc[line:]
	}
	if len(enc) > 0 {
		out = append(out, enc...)
		out = append(out, '\n')
	}
	return out
}
