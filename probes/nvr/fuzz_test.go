package nvr

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func seed(f *testing.F, pattern string) {
	files, _ := filepath.Glob("testdata/" + pattern)
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzISAPI runs every ISAPI decoder over hostile bytes: no panic, and
// never more channels than the cap.
func FuzzISAPI(f *testing.F) {
	seed(f, "hik_*.xml")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseHikDeviceInfo(b, 64<<10)
		chans, _, _, err := parseHikChannels(b, 64<<10, 8)
		if err == nil && len(chans) > 8 {
			t.Fatalf("%d channels over the cap", len(chans))
		}
		for _, c := range chans {
			if c.Number < 1 || len(c.Name) > 4*512 {
				t.Fatalf("bad channel %+v", c)
			}
		}
		_, _ = parseHikStatus(b, 64<<10)
		_, _ = parseHikVideoInputs(b, 64<<10)
		_ = isISAPIChallenge(b)
	})
}

// FuzzDahuaKV runs the key=value decoders over hostile bytes.
func FuzzDahuaKV(f *testing.F) {
	seed(f, "dahua_*.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		if kv := parseKV(b); len(kv) > maxKVLines {
			t.Fatalf("%d keys", len(kv))
		}
		chans, _, _ := parseRemoteDevices(b, 8)
		if len(chans) > 8 {
			t.Fatalf("%d channels over the cap", len(chans))
		}
		for _, c := range chans {
			if c.Number < 1 || c.Number > 4096 {
				t.Fatalf("channel number %d", c.Number)
			}
		}
	})
}

// FuzzLockHint reads refusals of every kind without panicking, and never
// believes a lock longer than MaxLockout.
func FuzzLockHint(f *testing.F) {
	seed(f, "*")
	f.Add([]byte("User Locked! after 99999 minutes"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := http.Header{}
		h.Set("Retry-After", string(b[:min(len(b), 12)]))
		for _, st := range []int{401, 403, 429} {
			hint := readLockHint(st, h, b)
			if hint.until < 0 || hint.until > MaxLockout || (hint.locked && hint.until == 0) {
				t.Fatalf("hint %+v", hint)
			}
		}
		_ = saysLocked(b)
	})
}

// FuzzChallenge parses WWW-Authenticate headers and answers them.
func FuzzChallenge(f *testing.F) {
	f.Add(`Digest realm="DS-NVR", qop="auth", nonce="abc", opaque="x", algorithm=MD5`)
	f.Add(`Basic realm="Login to 4C0048DPAJ8F3C9"`)
	f.Add(`Digest realm="a\"b", nonce="n", qop=auth-int, stale=true, algorithm=SHA-256`)
	f.Fuzz(func(t *testing.T, h string) {
		ch, ok := parseChallenges([]string{h, h})
		if !ok {
			return
		}
		_, _ = ch.authorization(Credential{User: "u", Password: "p"}, "GET", "/ISAPI/System/deviceInfo", 1, "c")
	})
}
