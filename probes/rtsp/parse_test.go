package rtsp

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	httpprobe "github.com/camwarden/camwarden/probes/http"
)

func TestReadResponseGolden(t *testing.T) {
	tests := []struct{ file, server, public, realm, body string }{
		{"dahua-options.resp", "Dahua Rtsp Server", "OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER", "", ""},
		{"hikvision-describe.resp", "", "", "Hikvision", ""},
		{"gstreamer-describe.resp", "GStreamer RTSP server", "", "", "v=0\r\ns=Session streamed\r\n"},
		{"xiongmai-options-lf.resp", "H264DVR 1.0", "OPTIONS, DESCRIBE, SETUP, TEARDOWN, GET_PARAMETER, SET_PARAMETER, PLAY, PAUSE", "", ""},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ReadResponse(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		_, realm := httpprobe.ParseAuth(r.Get("WWW-Authenticate"))
		if r.Get("Server") != tt.server || r.Get("Public") != tt.public || realm != tt.realm || string(r.Body) != tt.body {
			t.Errorf("%s: server %q public %q realm %q body %q", tt.file, r.Get("Server"), r.Get("Public"), realm, r.Body)
		}
	}
}

func TestReadResponseErrors(t *testing.T) {
	for in, want := range map[string]error{
		"HTTP/1.1 200 OK\r\n\r\n":                             ErrNotRTSP,
		"RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n": nil,
		"RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n":       nil,
		"RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nab":     nil,
		"\x00\x01garbage\r\n\r\n":                             httpprobe.ErrMalformed,
	} {
		_, err := ReadResponse(bufio.NewReader(strings.NewReader(in)))
		if err == nil || (want != nil && !errors.Is(err, want)) {
			t.Errorf("ReadResponse(%.30q) = %v, want %v", in, err, want)
		}
	}
}

func FuzzReadResponse(f *testing.F) {
	ents, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".resp") {
			b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ReadResponse(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && (len(r.Body) > MaxBody || !strings.HasPrefix(r.Proto, "RTSP/1.")) {
			t.Fatalf("accepted out-of-bounds reply %q, %d body bytes", r.Proto, len(r.Body))
		}
	})
}

// FuzzRequest feeds the responder's request reader hostile input.
func FuzzRequest(f *testing.F) {
	f.Add([]byte("OPTIONS rtsp://198.18.1.10/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
	f.Add([]byte("DESCRIBE rtsp://x/ RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nabc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, cseq, err := readRequest(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && (m == "" || !isDigits(cseq)) {
			t.Fatalf("method %q cseq %q", m, cseq)
		}
	})
}
