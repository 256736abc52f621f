package camsim

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNVRProfilesServeTheirAPI(t *testing.T) {
	for _, tc := range []struct{ name, path, want string }{
		{"hikvision-nvr", "/ISAPI/System/deviceInfo", "<userCheck"},
		{"hikvision-nvr-old", "/ISAPI/ContentMgmt/InputProxy/channels", "<userCheck"},
		{"lorex-nvr", "/cgi-bin/magicBox.cgi?action=getSystemInfo", "Invalid Authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Lookup(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			off, err := FreeOffset(80)
			if err != nil {
				t.Fatal(err)
			}
			h := Host{MAC: p.MAC(1), IP: netip.MustParseAddr("127.0.0.1"), PortOffset: off}
			stop := Start(p, h, nil)
			defer stop()
			if err := WaitListening(h, 3*time.Second, 80); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(h.Port(80)) + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), tc.want) || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Digest ") {
				t.Errorf("%s: %d %q %q", tc.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b)
			}
		})
	}
}

// A misspelt kind, or a recorder without a web server, fails at start
// rather than serving nothing.
func TestNVRProfileMistakesFail(t *testing.T) {
	p, err := Lookup("hikvision-nvr")
	if err != nil {
		t.Fatal(err)
	}
	bad := p
	nv := *p.NVR
	nv.Kind = "hikvison"
	bad.NVR = &nv
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	off, _ := FreeOffset(80)
	if err := Run(ctx, bad, Host{IP: netip.MustParseAddr("127.0.0.1"), PortOffset: off}, nil); err == nil || !strings.Contains(err.Error(), "nvr.kind") {
		t.Errorf("misspelt kind: %v", err)
	}
	noWeb := p
	noWeb.HTTP, noWeb.ONVIF = nil, nil
	if err := Run(ctx, noWeb, Host{IP: netip.MustParseAddr("127.0.0.1"), PortOffset: off}, nil); err == nil || !strings.Contains(err.Error(), "http section") {
		t.Errorf("no web server: %v", err)
	}
}
