package nvr

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/camwarden/camwarden/probes/internal/digest"
)

// Emulator is an emulated recorder's management API, the responder half of
// the package (camsim mounts it under /ISAPI/ and /cgi-bin/). It answers
// the paths the Prober reads, asks for Digest (or Basic) credentials, and
// locks the account after LockAfter failed logins, as real recorders do.
type Emulator struct {
	Kind                                        Kind // KindHikvision or KindDahua
	DeviceType, Model, Serial, Firmware, Vendor string
	MAC                                         net.HardwareAddr
	// Channels as the recorder would list them; a channel with no IP,
	// model or serial is an empty slot.
	Channels []Channel
	// Old leaves model, serialNumber and firmwareVersion out of ISAPI
	// channel descriptors, as older NVR firmware does.
	Old bool
	// User/Password is the account; User "" answers without credentials.
	User, Password string
	Realm          string // default the model (Hikvision) or "Login to <serial>" (Dahua)
	Basic          bool   // ask for Basic instead of Digest
	// LockAfter failed logins lock the account for LockFor (30m when 0);
	// 0 never locks.
	LockAfter int
	LockFor   time.Duration
	// Variant is "" or one of "malformed" (broken documents), "huge"
	// (HugeChannels channels padded out), "slow" (every answer waits
	// Delay).
	Variant      string
	Delay        time.Duration
	HugeChannels int // default 600
	Now          func() time.Time

	mu          sync.Mutex
	bad         int
	lockedUntil time.Time
	nonces      map[string]time.Time
	stats       EmulatorStats
}

// EmulatorStats counts what the emulator saw, for tests.
type EmulatorStats struct {
	Good        int  `json:"good"`         // requests with accepted credentials
	Bad         int  `json:"bad"`          // requests with refused credentials
	WhileLocked int  `json:"while_locked"` // requests carrying credentials while locked
	Locked      bool `json:"locked"`
}

// StatsPath answers the emulator's counters as JSON (an emulation aid, no
// real device has it).
const StatsPath = "/camsim/nvr/stats"

// Stats returns the counters.
func (e *Emulator) Stats() EmulatorStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Locked = e.now().Before(e.lockedUntil)
	return s
}

func (e *Emulator) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Emulator) realm() string {
	switch {
	case e.Realm != "":
		return e.Realm
	case e.Kind == KindDahua:
		return "Login to " + e.Serial
	case e.Model != "":
		// Hikvision firmware names its Digest realm after the model.
		return e.Model
	}
	return "DS-NVR"
}

func (e *Emulator) lockFor() time.Duration {
	if e.LockFor > 0 {
		return e.LockFor
	}
	return DefaultLockout
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == StatsPath {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e.Stats())
		return
	}
	if e.Variant == "slow" {
		select {
		case <-time.After(e.Delay):
		case <-r.Context().Done():
			return
		}
	}
	body, ctype, ok := e.answer(r.URL)
	if !ok {
		e.notFound(w)
		return
	}
	if e.User != "" && !e.authorized(w, r) {
		return
	}
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(body)
}

func (e *Emulator) notFound(w http.ResponseWriter) {
	if e.Kind == KindHikvision {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><ResponseStatus version="1.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><statusCode>4</statusCode><statusString>Invalid Operation</statusString><subStatusCode>notSupport</subStatusCode></ResponseStatus>`))
		return
	}
	http.Error(w, "Error\r\nBad Request!", http.StatusNotFound)
}

// authorized checks credentials and writes the refusal, keeping the
// lock-out state.
func (e *Emulator) authorized(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	locked := now.Before(e.lockedUntil)
	switch {
	case h == "":
	case locked:
		e.stats.WhileLocked++
	case e.check(h, r.Method):
		e.bad = 0
		e.stats.Good++
		return true
	default:
		e.stats.Bad++
		e.bad++
		if e.LockAfter > 0 && e.bad >= e.LockAfter {
			e.lockedUntil = now.Add(e.lockFor())
			e.bad = 0
			locked = true
		}
	}
	e.refuse(w, locked, now)
	return false
}

func (e *Emulator) refuse(w http.ResponseWriter, locked bool, now time.Time) {
	if e.Basic {
		w.Header().Set("WWW-Authenticate", `Basic realm=`+digest.Quote(e.realm()))
	} else {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Digest qop="auth", realm=%s, nonce=%s, stale="FALSE"`, digest.Quote(e.realm()), digest.Quote(e.newNonce(now))))
	}
	if e.Kind == KindHikvision {
		// ISAPI's userCheck document, with the lock fields recorders add.
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusUnauthorized)
		status, left, unlock := "unlock", 0, 0
		if locked {
			status, unlock = "lock", int(math.Ceil(e.lockedUntil.Sub(now).Seconds()))
		} else if e.LockAfter > 0 {
			left = e.LockAfter - e.bad
		}
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><userCheck version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">`+
			`<statusValue>401</statusValue><statusString>Unauthorized</statusString><isDefaultPassword>false</isDefaultPassword>`+
			`<isRiskPassword>false</isRiskPassword><isActivated>true</isActivated><lockStatus>%s</lockStatus><unlockTime>%d</unlockTime>`+
			`<retryLoginTime>%d</retryLoginTime></userCheck>`, status, unlock, left)
		// Without a lock policy retryLoginTime is 0: "no limit".
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusUnauthorized)
	if locked {
		fmt.Fprintf(w, "Error\r\nUser Locked! Please try again after %d minutes.\r\n", max(1, int(e.lockedUntil.Sub(now).Minutes())))
		return
	}
	_, _ = w.Write([]byte("Error\r\nInvalid Authority!\r\n"))
}

func (e *Emulator) newNonce(now time.Time) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	n := hex.EncodeToString(b)
	if e.nonces == nil || len(e.nonces) > 1024 {
		e.nonces = map[string]time.Time{}
	}
	e.nonces[n] = now
	return n
}

// check verifies an Authorization header; e.mu is held.
func (e *Emulator) check(h, method string) bool {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if len(h) > 4096 {
		return false
	}
	if e.Basic {
		if !strings.EqualFold(scheme, "Basic") {
			return false
		}
		raw, err := base64.StdEncoding.DecodeString(rest)
		return err == nil && subtle.ConstantTimeCompare(raw, []byte(e.User+":"+e.Password)) == 1
	}
	return digest.Verify(h, method, e.realm(), e.User, e.Password, func(n string) bool {
		t, known := e.nonces[n]
		return known && e.now().Sub(t) <= 5*time.Minute
	})
}

func xesc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

const hikNS = `xmlns="http://www.hikvision.com/ver20/XMLSchema"`

// answer builds the document for a path, or false when the emulated
// recorder has no such path.
func (e *Emulator) answer(u *url.URL) ([]byte, string, bool) {
	var b strings.Builder
	switch e.Kind {
	case KindHikvision:
		switch u.Path {
		case isapiDeviceInfo:
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><DeviceInfo version="2.0" ` + hikNS + `>`)
			b.WriteString(`<deviceName>Network Video Recorder</deviceName><model>` + xesc(e.Model) + `</model><serialNumber>` + xesc(e.Serial) + `</serialNumber>`)
			b.WriteString(`<macAddress>` + xesc(e.MAC.String()) + `</macAddress><firmwareVersion>` + xesc(e.Firmware) + `</firmwareVersion>`)
			b.WriteString(`<deviceType>` + xesc(e.DeviceType) + `</deviceType></DeviceInfo>`)
		case isapiProxyChannels:
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><InputProxyChannelList version="2.0" ` + hikNS + ` size="0">`)
			for _, c := range e.channels() {
				e.hikChannel(&b, c)
			}
			b.WriteString(`</InputProxyChannelList>`)
		case isapiProxyStatus:
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><InputProxyChannelStatusList version="2.0" ` + hikNS + `>`)
			for _, c := range e.channels() {
				on, det := "false", "offline"
				if c.Online != nil && *c.Online {
					on, det = "true", "connect"
				}
				fmt.Fprintf(&b, `<InputProxyChannelStatus version="2.0" %s><id>%d</id><sourceInputPortDescriptor><proxyProtocol>%s</proxyProtocol>`+
					`<addressingFormatType>ipaddress</addressingFormatType><ipAddress>%s</ipAddress><managePortNo>%d</managePortNo><srcInputPort>1</srcInputPort>`+
					`</sourceInputPortDescriptor><online>%s</online><chanDetectResult>%s</chanDetectResult></InputProxyChannelStatus>`,
					hikNS, c.Number, xesc(c.Protocol), xesc(orZero(c.IP)), c.Port, on, det)
			}
			b.WriteString(`</InputProxyChannelStatusList>`)
		case isapiVideoInputs:
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><VideoInputChannelList version="2.0" ` + hikNS + `></VideoInputChannelList>`)
		default:
			return nil, "", false
		}
		return e.mangle(b.String()), "application/xml", true
	case KindDahua:
		if u.Path == "/cgi-bin/magicBox.cgi" {
			switch u.Query().Get("action") {
			case "getSystemInfo":
				fmt.Fprintf(&b, "deviceType=%s\r\nprocessor=ST7108\r\nserialNumber=%s\r\nupdateSerial=%s\r\n", e.DeviceType, e.Serial, e.Model)
			case "getDeviceType":
				fmt.Fprintf(&b, "type=%s\r\n", e.Model)
			case "getVendor":
				fmt.Fprintf(&b, "vendor=%s\r\n", e.Vendor)
			case "getSoftwareVersion":
				fmt.Fprintf(&b, "version=%s\r\n", e.Firmware)
			default:
				return nil, "", false
			}
			return e.mangle(b.String()), "text/plain", true
		}
		if u.Path == "/cgi-bin/configManager.cgi" && u.Query().Get("action") == "getConfig" && u.Query().Get("name") == "RemoteDevice" {
			for i, c := range e.channels() {
				pre := fmt.Sprintf("table.RemoteDevice.uuid:System_CONFIG_NETCAMERA_INFO_%d.", i)
				enable := c.IP != "" || c.Model != "" || c.Serial != ""
				kv := [][2]string{
					{"Address", orDefault(c.IP, "192.168.0.0")}, {"DeviceType", c.Model}, {"Enable", strconv.FormatBool(enable)},
					{"HttpPort", "80"}, {"Mac", c.MAC}, {"Name", c.Name}, {"Password", "******"}, {"Port", strconv.Itoa(c.Port)},
					{"ProtocolType", c.Protocol}, {"SerialNo", c.Serial}, {"UserName", "admin"}, {"Vendor", c.Maker}, {"Version", c.Firmware},
					{"VideoInputs[0].Name", c.Name},
				}
				for _, p := range kv {
					b.WriteString(pre + p[0] + "=" + p[1] + "\r\n")
				}
			}
			return e.mangle(b.String()), "text/plain", true
		}
	}
	return nil, "", false
}

func (e *Emulator) hikChannel(b *strings.Builder, c Channel) {
	fmt.Fprintf(b, `<InputProxyChannel version="2.0" %s><id>%d</id><name>%s</name><sourceInputPortDescriptor><proxyProtocol>%s</proxyProtocol>`+
		`<addressingFormatType>ipaddress</addressingFormatType><ipAddress>%s</ipAddress><managePortNo>%d</managePortNo><srcInputPort>1</srcInputPort>`+
		`<userName>admin</userName><streamType>auto</streamType>`, hikNS, c.Number, xesc(c.Name), xesc(c.Protocol), xesc(orZero(c.IP)), c.Port)
	if !e.Old {
		for _, f := range [][2]string{{"model", c.Model}, {"serialNumber", c.Serial}, {"firmwareVersion", c.Firmware}} {
			if f[1] != "" {
				b.WriteString("<" + f[0] + ">" + xesc(f[1]) + "</" + f[0] + ">")
			}
		}
	}
	b.WriteString(`</sourceInputPortDescriptor><enableAnr>false</enableAnr><enableTiming>true</enableTiming></InputProxyChannel>`)
}

// channels is the list to serve: the configured one, or for the huge
// variant a long generated one.
func (e *Emulator) channels() []Channel {
	if e.Variant != "huge" {
		return e.Channels
	}
	n := e.HugeChannels
	if n <= 0 {
		n = 600
	}
	out := make([]Channel, 0, n)
	for i := range n {
		out = append(out, Channel{
			Number: i + 1, Name: "Camera " + strconv.Itoa(i+1) + strings.Repeat(" ", 64), Protocol: "HIKVISION",
			IP: fmt.Sprintf("192.168.%d.%d", 254-i/250, 2+i%250), Port: 8000, Model: "DS-2CD2143G2-I",
			Serial: fmt.Sprintf("DS-2CD2143G2-I20230101AAWRL%08d", i), Online: boolp(true),
		})
	}
	return out
}

// mangle breaks a document for the malformed variant: cut in the middle,
// with a stray control byte, as a crashing web server might send it.
func (e *Emulator) mangle(s string) []byte {
	if e.Variant != "malformed" {
		return []byte(s)
	}
	cut := s[:len(s)*2/3]
	return []byte(cut + "\x00<<&&==\xff")
}

func orZero(ip string) string { return orDefault(ip, "0.0.0.0") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
