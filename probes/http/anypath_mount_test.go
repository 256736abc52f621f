package httpprobe_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	httpprobe "github.com/camwarden/camwarden/probes/http"
)

// Behind a whole-site login (AnyPath "401") every page answers the same
// challenge, whose login page keeps the product's title, while a mounted
// service (ONVIF) still answers with its own authentication, as on a real
// device whose web UI and ONVIF service share port 80.
func TestAnyPath401KeepsTitleAndMounts(t *testing.T) {
	r := &httpprobe.Responder{Server: "s", Title: "Product X", Realm: "X", AnyPath: "401",
		Mounts: map[string]http.Handler{"/onvif/": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "<soap/>")
		})}}
	port := serve(t, r)
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, path := range []string{"/", "/ISAPI/System/deviceInfo", "/no/such"} {
		resp, body := get(path)
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `realm="X"`) {
			t.Errorf("%s: %d %q, want the challenge", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if httpprobe.Title([]byte(body)) != "Product X" {
			t.Errorf("%s: login page title %q", path, httpprobe.Title([]byte(body)))
		}
	}
	if resp, body := get("/onvif/device_service"); resp.StatusCode != 200 || body != "<soap/>" {
		t.Errorf("mounted service: %d %q, want its own answer", resp.StatusCode, body)
	}
}
