package onvif

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func seedGoldens(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseResponse runs every response decoder over hostile bytes: no
// panic, bounded output.
func FuzzParseResponse(f *testing.F) {
	seedGoldens(f)
	f.Add(FaultEnvelope("env:Sender", "ter:NotAuthorized", "x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, status := range []int{200, 400, 401, 500} {
			r := &reply{status: status, body: b, max: DefaultMaxBody}
			el, err := interpret(r)
			if err != nil {
				_ = err.Error()
				continue
			}
			_, _ = parseDateTime(el)
			_ = el.Child("Manufacturer").Text()
			for _, s := range el.Children("Scopes") {
				_ = s.Child("ScopeItem").Text()
			}
			for _, n := range el.Children("NetworkInterfaces") {
				_ = n.Find("HwAddress").Text()
			}
		}
	})
}

// FuzzDeviceRequest throws hostile requests at the emulated device.
func FuzzDeviceRequest(f *testing.F) {
	f.Add(envelope("", `<tds:GetDeviceInformation/>`))
	f.Add(envelope(usernameToken(Credential{"admin", "x"}, []byte("n"), time.Unix(0, 0)), `<tds:GetScopes/>`))
	f.Add([]byte("<Envelope><Header><Security><UsernameToken><Created>2024-01-01T00:00:00Z</Created><Nonce>@@</Nonce></UsernameToken></Security></Header><Body><GetScopes/></Body></Envelope>"))
	d := hikDevice()
	f.Fuzz(func(t *testing.T, b []byte) {
		w := httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/onvif/device_service", bytes.NewReader(b)))
		if w.Code == 200 && bytes.Contains(w.Body.Bytes(), []byte("DS-2CD2385G1-I2019")) {
			t.Fatal("device information without valid credentials")
		}
	})
}
