package onvif

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/camwarden/camwarden/probes/internal/digest"
	"github.com/camwarden/camwarden/probes/internal/xmltree"
)

// Device is an emulated ONVIF device service, the responder half of the
// package (camsim mounts it). It answers the operations the client uses
// and refuses the rest with ter:ActionNotSupported.
type Device struct {
	Info   DeviceInfo
	MAC    net.HardwareAddr
	Scopes []string
	// User/Password is the account it accepts; User "" means no
	// authentication is needed whatever Auth says.
	User, Password string
	// Auth is AuthWSSE (default), AuthDigest (HTTP Digest only) or AuthNone.
	Auth AuthMode
	// ClockOffset is how far the device's clock is from Now; tokens created
	// more than MaxSkew away from the device's clock are refused.
	ClockOffset time.Duration
	Now         func() time.Time
	Realm       string // HTTP Digest realm; "ONVIF" when empty
	// VideoSources is how many video sources GetVideoSources lists (an
	// NVR's channel count); 0 answers with none.
	VideoSources int
	Log          *slog.Logger

	mu     sync.Mutex
	nonces map[string]time.Time
}

// MaxSkew is how far a UsernameToken's Created may be from the device's
// clock (the usual camera setting is 5 minutes).
const MaxSkew = 5 * time.Minute

const maxRequest = 64 << 10

func (d *Device) clock() time.Time {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	return now().Add(d.ClockOffset).UTC()
}

func (d *Device) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// preAuth are the operations ONVIF lets anyone call.
var preAuth = map[string]bool{"GetSystemDateAndTime": true, "GetServices": true}

// ServeHTTP implements http.Handler.
func (d *Device) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST SOAP requests here", http.StatusMethodNotAllowed)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(b) > maxRequest {
		d.fault(w, http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal", "request unreadable or too large")
		return
	}
	root, err := xmltree.Parse(b, limits(maxRequest))
	if err != nil || root.Name().Local != "Envelope" || len(root.Child("Body").Kids()) == 0 {
		d.fault(w, http.StatusBadRequest, "env:Sender", "ter:WellFormed", "not a SOAP envelope")
		return
	}
	op := root.Child("Body").Kids()[0].Name().Local
	if !preAuth[op] && d.User != "" && d.Auth != AuthNone {
		if !d.authorized(w, r, root) {
			return
		}
	}
	body, ok := d.answer(op, r.Host)
	if !ok {
		d.fault(w, http.StatusInternalServerError, "env:Receiver", "ter:ActionNotSupported", "Optional Action Not Implemented")
		return
	}
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	_, _ = w.Write(envelope("", body))
}

// authorized checks the request's credentials and writes the refusal.
func (d *Device) authorized(w http.ResponseWriter, r *http.Request, root *xmltree.Node) bool {
	cred := Credential{User: d.User, Password: d.Password}
	if d.Auth == AuthDigest {
		if h := r.Header.Get("Authorization"); h != "" && digest.Verify(h, r.Method, d.realm(), cred.User, cred.Password, d.nonceOK) {
			return true
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Digest realm=%s, qop="auth", nonce=%s, algorithm=MD5`, digest.Quote(d.realm()), digest.Quote(d.newNonce())))
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return false
	}
	tok := root.Path("Header", "Security", "UsernameToken")
	if tok != nil && d.tokenOK(tok) {
		return true
	}
	d.fault(w, http.StatusBadRequest, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")
	return false
}

func (d *Device) tokenOK(tok *xmltree.Node) bool {
	if tok.Child("Username").Text() != d.User {
		return false
	}
	created := tok.Child("Created").Text()
	ct, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return false
	}
	if skew := ct.Sub(d.clock()); skew > MaxSkew || skew < -MaxSkew {
		d.log().Debug("onvif: token outside clock window", "skew", skew)
		return false
	}
	nonce, err := base64.StdEncoding.DecodeString(tok.Child("Nonce").Text())
	if err != nil {
		return false
	}
	want := passwordDigest(nonce, created, d.Password)
	return subtle.ConstantTimeCompare([]byte(want), []byte(tok.Child("Password").Text())) == 1
}

func (d *Device) realm() string {
	if d.Realm == "" {
		return "ONVIF"
	}
	return d.Realm
}

func (d *Device) newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	n := hex.EncodeToString(b)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nonces == nil || len(d.nonces) > 1024 {
		d.nonces = map[string]time.Time{}
	}
	d.nonces[n] = time.Now()
	return n
}

func (d *Device) nonceOK(n string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.nonces[n]
	return ok && time.Since(t) < 5*time.Minute
}

func (d *Device) fault(w http.ResponseWriter, status int, code, sub, reason string) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(FaultEnvelope(code, sub, reason))
}

// FaultEnvelope builds a SOAP 1.2 fault as ONVIF devices send it.
func FaultEnvelope(code, sub, reason string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="` + NSSOAP12 + `" xmlns:ter="` + NSError + `">` +
		`<env:Body><env:Fault><env:Code><env:Value>` + esc(code) + `</env:Value><env:Subcode><env:Value>` + esc(sub) +
		`</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">` + esc(reason) +
		`</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`)
}

func (d *Device) answer(op, host string) (string, bool) {
	switch op {
	case "GetSystemDateAndTime":
		t := d.clock()
		return fmt.Sprintf(`<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType>`+
			`<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>GMT0</tt:TZ></tt:TimeZone>`+
			`<tt:UTCDateTime><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>`+
			`<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date></tt:UTCDateTime>`+
			`</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
			t.Hour(), t.Minute(), t.Second(), t.Year(), int(t.Month()), t.Day()), true
	case "GetDeviceInformation":
		i := d.Info
		return `<tds:GetDeviceInformationResponse><tds:Manufacturer>` + esc(i.Manufacturer) + `</tds:Manufacturer><tds:Model>` +
			esc(i.Model) + `</tds:Model><tds:FirmwareVersion>` + esc(i.FirmwareVersion) + `</tds:FirmwareVersion><tds:SerialNumber>` +
			esc(i.SerialNumber) + `</tds:SerialNumber><tds:HardwareId>` + esc(i.HardwareID) + `</tds:HardwareId></tds:GetDeviceInformationResponse>`, true
	case "GetScopes":
		var b strings.Builder
		b.WriteString(`<tds:GetScopesResponse>`)
		for _, s := range d.Scopes {
			b.WriteString(`<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>` + esc(s) + `</tt:ScopeItem></tds:Scopes>`)
		}
		b.WriteString(`</tds:GetScopesResponse>`)
		return b.String(), true
	case "GetNetworkInterfaces":
		return `<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0"><tt:Enabled>true</tt:Enabled>` +
			`<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>` + esc(d.MAC.String()) + `</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>` +
			`</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>`, true
	case "GetServices":
		var b strings.Builder
		b.WriteString(`<tds:GetServicesResponse>`)
		for _, s := range []struct{ ns, path string }{
			{NSDevice, "device_service"},
			{"http://www.onvif.org/ver10/media/wsdl", "Media"},
			{"http://www.onvif.org/ver10/events/wsdl", "Events"},
			{"http://www.onvif.org/ver20/imaging/wsdl", "Imaging"},
		} {
			b.WriteString(`<tds:Service><tds:Namespace>` + s.ns + `</tds:Namespace><tds:XAddr>http://` + esc(host) + `/onvif/` + s.path +
				`</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>`)
		}
		b.WriteString(`</tds:GetServicesResponse>`)
		return b.String(), true
	case "GetVideoSources":
		var b strings.Builder
		b.WriteString(`<trt:GetVideoSourcesResponse xmlns:trt="` + NSMedia + `">`)
		for i := range min(d.VideoSources, MaxVideoSources) {
			fmt.Fprintf(&b, `<trt:VideoSources token="VideoSource_%d"><tt:Framerate>25</tt:Framerate>`+
				`<tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></trt:VideoSources>`, i+1)
		}
		b.WriteString(`</trt:GetVideoSourcesResponse>`)
		return b.String(), true
	}
	return "", false
}
