package onvif

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/camwarden/camwarden/probes/internal/devhttp"
	"github.com/camwarden/camwarden/probes/internal/digest"
	"github.com/camwarden/camwarden/probes/internal/xmltree"
)

// Defaults for one call.
const (
	DefaultTimeout = 5 * time.Second
	DefaultMaxBody = 256 << 10
)

// AuthMode is how the client ended up authenticating; it is also the value
// of the onvif.auth fact.
type AuthMode string

// Authentication outcomes.
const (
	AuthUnknown AuthMode = ""
	AuthNone    AuthMode = "none-needed"
	AuthWSSE    AuthMode = "wsse"
	AuthDigest  AuthMode = "digest"
	AuthRefused AuthMode = "refused"
)

// NewHTTPClient returns the HTTP client the package uses by default:
// devhttp's (no proxy, no redirects, capped headers, certificates not
// verified), keeping one idle connection per device, as the client calls
// one device service at a time.
func NewHTTPClient() *http.Client {
	return devhttp.NewClient(DefaultTimeout, 1)
}

// Client talks to one device service. Methods are safe for concurrent use,
// but a prober normally calls them in sequence.
type Client struct {
	XAddr string
	// Creds are tried in order until one is accepted; each at most once.
	Creds   []Credential
	HTTP    *http.Client     // NewHTTPClient() when nil
	Timeout time.Duration    // per call; DefaultTimeout when 0
	MaxBody int64            // response cap; DefaultMaxBody when 0
	Now     func() time.Time // our clock
	Rand    io.Reader        // nonces; crypto/rand when nil
	Log     *slog.Logger

	mu          sync.Mutex
	offset      time.Duration
	offsetKnown bool
	auth        AuthMode
	cred        int // index into Creds once auth is wsse or digest
	chal        *digest.Challenge
	nc          uint32
}

// DeviceInfo is GetDeviceInformation's answer.
type DeviceInfo struct {
	Manufacturer, Model, FirmwareVersion, SerialNumber, HardwareID string
}

// NetworkInterface is one entry of GetNetworkInterfaces.
type NetworkInterface struct {
	Name, HwAddress string
	Enabled         bool
}

// Service is one entry of GetServices.
type Service struct {
	Namespace, XAddr, Version string
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.HTTP == nil {
		c.HTTP = NewHTTPClient()
	}
	return c.HTTP
}

// Auth reports how the client authenticates so far.
func (c *Client) Auth() AuthMode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth
}

// ClockOffset is the camera's clock minus ours, once SystemDateAndTime has
// answered.
func (c *Client) ClockOffset() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset, c.offsetKnown
}

// SetClockOffset sets the offset used for WS-UsernameToken Created, for
// callers that measured it elsewhere.
func (c *Client) SetClockOffset(d time.Duration) {
	c.mu.Lock()
	c.offset, c.offsetKnown = d, true
	c.mu.Unlock()
}

// reply is one HTTP exchange's outcome before SOAP interpretation.
type reply struct {
	status int
	chal   *digest.Challenge
	body   []byte
	max    int64 // the size cap body was read under
}

// post sends one SOAP request and reads the bounded reply.
func (c *Client) post(ctx context.Context, op string, payload []byte, authz string) (*reply, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	max := c.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.XAddr, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="`+NSDevice+`/`+op+`"`)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, body, over, err := devhttp.Do(c.httpClient(), req, max)
	if err != nil {
		return nil, err
	}
	if over {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, max)
	}
	r := &reply{status: resp.StatusCode, body: body, max: max}
	if resp.StatusCode == http.StatusUnauthorized {
		if ch, ok := parseChallenge(resp.Header.Values("WWW-Authenticate")); ok {
			r.chal = &ch
		}
	}
	return r, nil
}

// interpret turns a reply into the response element or a typed error.
func interpret(r *reply) (*xmltree.Node, error) {
	el, err := parseEnvelope(r.body, r.status, r.max)
	var f *Fault
	switch {
	case errors.As(err, &f):
		return nil, f
	case err != nil && r.status/100 != 2:
		// Not SOAP and not a success: report the status (a 401 without a
		// fault body is still ErrNotAuthorized).
		return nil, &HTTPError{Status: r.status, Challenge: r.chal != nil}
	case err != nil:
		return nil, err
	case r.status/100 != 2:
		return nil, &HTTPError{Status: r.status, Challenge: r.chal != nil}
	}
	return el, nil
}

func (c *Client) nonce() []byte {
	b := make([]byte, 16)
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, b); err != nil {
		_, _ = rand.Read(b)
	}
	return b
}

// attempt sends op with one authentication method; cred < 0 means none.
func (c *Client) attempt(ctx context.Context, op, body string, mode AuthMode, cred int, ch *digest.Challenge) (*xmltree.Node, *reply, error) {
	sec, authz := "", ""
	switch mode {
	case AuthWSSE:
		off, _ := c.ClockOffset()
		sec = usernameToken(c.Creds[cred], c.nonce(), c.now().Add(off))
	case AuthDigest:
		u, err := url.Parse(c.XAddr)
		if err != nil {
			return nil, nil, err
		}
		c.mu.Lock()
		c.nc++
		nc := c.nc
		c.mu.Unlock()
		authz, err = ch.Authorization(c.Creds[cred].User, c.Creds[cred].Password, http.MethodPost, u.RequestURI(), nc, hex.EncodeToString(c.nonce()[:8]))
		if err != nil {
			return nil, nil, err
		}
	}
	r, err := c.post(ctx, op, envelope(sec, body), authz)
	if err != nil {
		return nil, nil, err
	}
	el, err := interpret(r)
	return el, r, err
}

// call runs op, authenticating as needed. preAuth operations (ONVIF's
// PRE_AUTH class) are always sent without credentials.
func (c *Client) call(ctx context.Context, op, body string, preAuth bool) (el *xmltree.Node, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("onvif: %s at %s: %w", op, redactURL(c.XAddr), err)
		}
	}()
	if preAuth {
		el, _, err = c.attempt(ctx, op, body, AuthUnknown, -1, nil)
		return el, err
	}
	c.mu.Lock()
	mode, cred, ch := c.auth, c.cred, c.chal
	c.mu.Unlock()
	switch mode {
	case AuthWSSE:
		el, _, err = c.attempt(ctx, op, body, AuthWSSE, cred, nil)
		return el, err
	case AuthDigest:
		el, r, err := c.attempt(ctx, op, body, AuthDigest, cred, ch)
		if r != nil && r.chal != nil && r.chal.Stale {
			c.setAuth(AuthDigest, cred, r.chal)
			el, _, err = c.attempt(ctx, op, body, AuthDigest, cred, r.chal)
		}
		return el, err
	}

	el, r, err := c.attempt(ctx, op, body, AuthUnknown, -1, nil)
	if err == nil {
		if mode == AuthUnknown {
			c.setAuth(AuthNone, -1, nil)
		}
		return el, nil
	}
	if !errors.Is(err, ErrNotAuthorized) || mode == AuthRefused || len(c.Creds) == 0 {
		if errors.Is(err, ErrNotAuthorized) && mode == AuthUnknown {
			c.setAuth(AuthRefused, -1, nil)
		}
		return nil, err
	}
	chal := (*digest.Challenge)(nil)
	if r != nil {
		chal = r.chal
	}
	// Each credential once; HTTP Digest first when the device asked for it.
	for i := range c.Creds {
		if chal != nil {
			el, r2, err2 := c.attempt(ctx, op, body, AuthDigest, i, chal)
			if err2 == nil {
				c.setAuth(AuthDigest, i, chal)
				return el, nil
			}
			if r2 != nil && r2.chal != nil {
				chal = r2.chal // fresh nonce for the next try
			}
			if ctx.Err() != nil {
				return nil, err2
			}
			err = err2
		}
		el, r2, err2 := c.attempt(ctx, op, body, AuthWSSE, i, nil)
		if err2 == nil {
			c.setAuth(AuthWSSE, i, nil)
			return el, nil
		}
		if ctx.Err() != nil {
			return nil, err2
		}
		if r2 != nil && r2.chal != nil && chal == nil {
			// The device wants HTTP Digest after all: retry this credential.
			chal = r2.chal
			if el, _, err3 := c.attempt(ctx, op, body, AuthDigest, i, chal); err3 == nil {
				c.setAuth(AuthDigest, i, chal)
				return el, nil
			}
		}
		err = err2
	}
	c.setAuth(AuthRefused, -1, nil)
	if !errors.Is(err, ErrNotAuthorized) {
		err = errors.Join(ErrNotAuthorized, err)
	}
	return nil, fmt.Errorf("all %d credentials refused: %w", len(c.Creds), err)
}

func (c *Client) setAuth(m AuthMode, cred int, ch *digest.Challenge) {
	c.mu.Lock()
	c.auth, c.cred, c.chal = m, cred, ch
	c.mu.Unlock()
}

// redactURL drops any userinfo a device put in its XAddr.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// SystemDateAndTime asks the camera's clock (no credentials needed) and
// records the offset from ours, measured from the middle of the exchange.
func (c *Client) SystemDateAndTime(ctx context.Context) (time.Time, error) {
	t0 := c.now()
	el, err := c.call(ctx, "GetSystemDateAndTime", `<tds:GetSystemDateAndTime/>`, true)
	if err != nil {
		return time.Time{}, err
	}
	t1 := c.now()
	cam, err := parseDateTime(el)
	if err != nil {
		return time.Time{}, fmt.Errorf("onvif: GetSystemDateAndTime at %s: %w", redactURL(c.XAddr), err)
	}
	// The camera reports whole seconds, truncated: its clock is on average
	// half a second past what it says.
	mid := t0.Add(t1.Sub(t0) / 2)
	c.SetClockOffset(cam.Add(500 * time.Millisecond).Sub(mid).Round(time.Second))
	return cam, nil
}

func parseDateTime(el *xmltree.Node) (time.Time, error) {
	sdt := el.Find("SystemDateAndTime")
	dt := sdt.Child("UTCDateTime")
	if dt == nil {
		// Some firmwares only fill LocalDateTime; without a parsable time
		// zone it is the best reading there is.
		dt = sdt.Child("LocalDateTime")
	}
	if dt == nil {
		return time.Time{}, errors.New("no UTCDateTime or LocalDateTime")
	}
	var v [6]int
	for i, p := range [][2]string{{"Date", "Year"}, {"Date", "Month"}, {"Date", "Day"}, {"Time", "Hour"}, {"Time", "Minute"}, {"Time", "Second"}} {
		n, err := strconv.Atoi(dt.Path(p[0], p[1]).Text())
		if err != nil {
			return time.Time{}, fmt.Errorf("date %s/%s: %w", p[0], p[1], err)
		}
		v[i] = n
	}
	if v[0] < 1970 || v[0] > 2200 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] < 0 || v[3] > 23 || v[4] < 0 || v[4] > 59 || v[5] < 0 || v[5] > 60 {
		return time.Time{}, fmt.Errorf("date out of range: %v", v)
	}
	return time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, time.UTC), nil
}

// DeviceInformation calls GetDeviceInformation.
func (c *Client) DeviceInformation(ctx context.Context) (DeviceInfo, error) {
	el, err := c.call(ctx, "GetDeviceInformation", `<tds:GetDeviceInformation/>`, false)
	if err != nil {
		return DeviceInfo{}, err
	}
	return DeviceInfo{
		Manufacturer:    el.Child("Manufacturer").Text(),
		Model:           el.Child("Model").Text(),
		FirmwareVersion: el.Child("FirmwareVersion").Text(),
		SerialNumber:    el.Child("SerialNumber").Text(),
		HardwareID:      el.Child("HardwareId").Text(),
	}, nil
}

// Scopes calls GetScopes.
func (c *Client) Scopes(ctx context.Context) ([]string, error) {
	el, err := c.call(ctx, "GetScopes", `<tds:GetScopes/>`, false)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range el.Children("Scopes") {
		if v := s.Child("ScopeItem").Text(); v != "" && len(out) < 64 {
			out = append(out, v)
		}
	}
	return out, nil
}

// NetworkInterfaces calls GetNetworkInterfaces.
func (c *Client) NetworkInterfaces(ctx context.Context) ([]NetworkInterface, error) {
	el, err := c.call(ctx, "GetNetworkInterfaces", `<tds:GetNetworkInterfaces/>`, false)
	if err != nil {
		return nil, err
	}
	var out []NetworkInterface
	for _, n := range el.Children("NetworkInterfaces") {
		if len(out) == 16 {
			break
		}
		hw := n.Find("HwAddress")
		out = append(out, NetworkInterface{
			Name:      n.Path("Info", "Name").Text(),
			HwAddress: hw.Text(),
			Enabled:   strings.EqualFold(n.Child("Enabled").Text(), "true"),
		})
	}
	return out, nil
}

// Services calls GetServices (without capabilities).
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	el, err := c.call(ctx, "GetServices", `<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>`, false)
	if err != nil {
		return nil, err
	}
	var out []Service
	for _, s := range el.Children("Service") {
		if len(out) == 32 {
			break
		}
		v := s.Child("Version")
		ver := ""
		if v != nil {
			ver = v.Child("Major").Text() + "." + v.Child("Minor").Text()
		}
		out = append(out, Service{Namespace: s.Child("Namespace").Text(), XAddr: s.Child("XAddr").Text(), Version: ver})
	}
	return out, nil
}
