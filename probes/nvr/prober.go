package nvr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/xmltree"
	"github.com/camwarden/camwarden/probes/onvif"
)

// Prober reads a recorder's channel list. It implements probes.Prober.
type Prober struct {
	// Creds are the credentials configuration picked for this device, in
	// the order to try them.
	Creds []Credential
	// Ledger bounds login attempts across probes; nil means a private one
	// per Probe call.
	Ledger *Ledger
	// DeviceKey names the device in the ledger; the MAC when known, else
	// the IP, when nil.
	DeviceKey func(probes.Target) string
	// Channels, when set, receives the Result of every Probe that reached
	// a recorder (channels included), after the observation is emitted.
	Channels func(nvr probes.Target, r *Result)

	HTTP        *http.Client  // NewHTTPClient() when nil
	Port        int           // web port; 80 when 0
	Timeout     time.Duration // per request; DefaultTimeout when 0
	MaxBody     int64         // per answer; DefaultMaxBody when 0
	MaxChannels int           // DefaultMaxChannels when 0
	Now         func() time.Time
	Log         *slog.Logger
}

// Name implements probes.Prober.
func (p *Prober) Name() string { return "nvr" }

// ErrNotNVR is returned when nothing at the address answered like a
// recorder's management API or ONVIF service.
var ErrNotNVR = errors.New("no recorder API answered")

func (p *Prober) key(t probes.Target) string {
	if p.DeviceKey != nil {
		return p.DeviceKey(t)
	}
	if len(t.MAC) > 0 {
		return t.MAC.String()
	}
	return t.IP.String()
}

func (p *Prober) session(t probes.Target) *session {
	now := p.Now
	if now == nil {
		now = time.Now
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := p.HTTP
	if hc == nil {
		hc = NewHTTPClient()
	}
	port := p.Port
	if port == 0 {
		port = 80
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	maxBody := p.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	ledger := p.Ledger
	if ledger == nil {
		ledger = NewLedger(1)
	}
	return &session{
		base:    "http://" + net.JoinHostPort(t.IP.Unmap().String(), strconv.Itoa(port)),
		dev:     p.key(t),
		creds:   p.Creds,
		ledger:  ledger,
		hc:      hc,
		timeout: timeout,
		maxBody: maxBody,
		now:     now,
		log:     log,
	}
}

func (p *Prober) maxCh() int {
	if p.MaxChannels > 0 {
		return min(p.MaxChannels, DefaultMaxChannels)
	}
	return DefaultMaxChannels
}

// Probe implements probes.Prober: it emits one observation about the
// recorder and hands the Result to Channels. It returns ErrNotNVR (joined
// with what failed) when nothing answered like a recorder.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	r, err := p.Read(ctx, t)
	if r == nil {
		return err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	emit(probes.Observation{Time: now(), MAC: t.MAC, IP: t.IP, Probe: "nvr", Facts: r.Facts()})
	if p.Channels != nil {
		p.Channels(t, r)
	}
	return err
}

// authErr says whether err is a login outcome (as opposed to "this is not
// that API").
func authErr(err error) bool {
	return errors.Is(err, ErrLocked) || errors.Is(err, ErrRefused) || errors.Is(err, ErrNoCredentials) ||
		errors.Is(err, ErrNotTried) || errors.Is(err, ErrLastAttempt)
}

// Read asks t's management API for its channel list without emitting
// anything. It returns a nil Result only when nothing answered like a
// recorder; otherwise the Result holds what was learned and the error, if
// any, says what could not be read.
func (p *Prober) Read(ctx context.Context, t probes.Target) (*Result, error) {
	if !t.IP.IsValid() {
		return nil, fmt.Errorf("nvr: no address for target %s", t.MAC)
	}
	s := p.session(t)
	if p.HTTP == nil {
		// A client of our own: its idle connection to the recorder is
		// of no use after this probe.
		defer s.hc.CloseIdleConnections()
	}
	r := &Result{}
	// errs are failures worth reporting; misses are "not this API"
	// answers, reported only when nothing answered at all.
	var errs, misses []error
	for _, k := range order(t) {
		if ctx.Err() != nil {
			break
		}
		var ok bool
		var err error
		switch k {
		case KindHikvision:
			ok, err = p.readHikvision(ctx, s, r)
		case KindDahua:
			ok, err = p.readDahua(ctx, s, r)
		}
		if err != nil {
			err = fmt.Errorf("nvr: %s API at %s: %w", k, s.base, err)
			if ok || authErr(err) {
				errs = append(errs, err)
			} else {
				misses = append(misses, err)
			}
		}
		if ok || authErr(err) {
			// A login question ends the search: asking the next API
			// would only spend the same credentials again.
			break
		}
	}
	if len(r.Channels) == 0 && ctx.Err() == nil {
		n, err := p.videoSources(ctx, s, t)
		switch {
		case err != nil:
			misses = append(misses, err)
		default:
			r.VideoSources = n
			if r.Kind == KindUnknown && n > 0 {
				r.Kind = KindONVIF
			}
		}
	}
	r.Auth = s.auth
	if r.ChannelCount == 0 {
		r.ChannelCount = max(len(r.Channels), r.VideoSources)
	}
	if r.Kind == KindUnknown && r.ChannelCount == 0 && len(errs) == 0 {
		return nil, errors.Join(append([]error{ErrNotNVR}, misses...)...)
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return r, errors.Join(errs...)
}

// order picks which API to ask first from what earlier probes learned, so
// a device of one make is not asked the other make's paths first.
func order(t probes.Target) []Kind {
	for _, f := range t.Facts {
		k, v := f.Key, strings.ToLower(f.Value)
		switch {
		case strings.HasPrefix(k, "dhip.") || strings.HasPrefix(k, "dvrip.") ||
			(strings.HasPrefix(k, "http") && (strings.Contains(v, "rpc2") || strings.Contains(v, "/cgi-bin/"))):
			return []Kind{KindDahua, KindHikvision}
		case strings.HasPrefix(k, "sadp.") || (strings.HasPrefix(k, "http") && strings.Contains(v, "/isapi/")):
			return []Kind{KindHikvision, KindDahua}
		}
	}
	return []Kind{KindHikvision, KindDahua}
}

// readHikvision asks ISAPI. ok means the device answered as ISAPI.
func (p *Prober) readHikvision(ctx context.Context, s *session, r *Result) (bool, error) {
	b, err := s.get(ctx, isapiDeviceInfo)
	if err != nil {
		if authErr(err) && s.lastChallengeISAPI {
			r.Kind = KindHikvision
		}
		return false, err
	}
	info, err := parseHikDeviceInfo(b, s.maxBody)
	if err != nil {
		return false, err
	}
	r.Kind, r.DeviceType, r.Model, r.Serial, r.Firmware, r.MAC = KindHikvision, info.DeviceType, info.Model, info.Serial, info.Firmware, info.MAC
	if !recorderType(info.DeviceType) {
		// A camera (IPCamera, IPDome, ...): it has no channels to list.
		return true, nil
	}
	var errs []error
	if b, err := s.get(ctx, isapiProxyChannels); err != nil {
		errs = append(errs, fmt.Errorf("channels: %w", err))
	} else if chans, empty, trunc, err := parseHikChannels(b, s.maxBody, p.maxCh()); err != nil {
		errs = append(errs, fmt.Errorf("channels: %w", err))
	} else {
		r.Channels, r.Empty, r.Truncated = chans, empty, trunc
	}
	if len(r.Channels) > 0 && ctx.Err() == nil {
		if b, err := s.get(ctx, isapiProxyStatus); err != nil {
			errs = append(errs, fmt.Errorf("channel status: %w", err))
		} else if st, err := parseHikStatus(b, s.maxBody); err != nil {
			errs = append(errs, fmt.Errorf("channel status: %w", err))
		} else {
			for i := range r.Channels {
				if on, ok := st[r.Channels[i].Number]; ok {
					r.Channels[i].Online = boolp(on)
				}
			}
		}
	}
	analogue := 0
	if ctx.Err() == nil {
		// Analogue inputs are cameras too (on DVRs and hybrids), without
		// an address or model to read; a pure NVR answers none or 404.
		if b, err := s.get(ctx, isapiVideoInputs); err == nil {
			analogue, _ = parseHikVideoInputs(b, s.maxBody)
		}
	}
	r.ChannelCount = len(r.Channels) + analogue
	return true, errors.Join(errs...)
}

// readDahua asks the CGI API. ok means the device answered as Dahua CGI.
func (p *Prober) readDahua(ctx context.Context, s *session, r *Result) (bool, error) {
	b, err := s.get(ctx, dahuaSystemInfo)
	if err != nil {
		return false, err
	}
	kv := parseKV(b)
	if kv["deviceType"] == "" && kv["serialNumber"] == "" && kv["updateSerial"] == "" {
		return false, errors.New("getSystemInfo: no deviceType, serialNumber or updateSerial")
	}
	r.Kind = KindDahua
	r.Serial = probes.Clean(kv["serialNumber"])
	// updateSerial is the model as sold (DHI-NVR..., N843A8 on a Lorex);
	// deviceType is the same on new firmware and a number on old.
	r.Model = probes.Clean(first(kv["updateSerial"], kv["deviceType"]))
	var errs []error
	if b, err := s.get(ctx, dahuaDeviceType); err == nil {
		if v := probes.Clean(parseKV(b)["type"]); v != "" {
			r.DeviceType = v
		}
	}
	if b, err := s.get(ctx, dahuaVendor); err == nil {
		r.Vendor = probes.Clean(parseKV(b)["vendor"])
	}
	if b, err := s.get(ctx, dahuaSoftware); err == nil {
		r.Firmware = probes.Clean(parseKV(b)["version"])
	}
	if ctx.Err() == nil {
		if b, err := s.get(ctx, dahuaRemoteDevice); err != nil {
			errs = append(errs, fmt.Errorf("RemoteDevice: %w", err))
		} else {
			r.Channels, r.Empty, r.Truncated = parseRemoteDevices(b, p.maxCh())
		}
	}
	r.ChannelCount = len(r.Channels)
	return true, errors.Join(errs...)
}

// videoSources counts the recorder's ONVIF video sources. Credentials go
// only where they cannot cost a failed login: the one the device already
// took this sweep, or, when no web API asked for any, those the ledger
// still allows.
func (p *Prober) videoSources(ctx context.Context, s *session, t probes.Target) (int, error) {
	var creds []Credential
	switch {
	case s.cred != nil:
		creds = []Credential{*s.cred}
	case s.auth == "" || s.auth == AuthNone:
		// One credential only: the onvif client answers a Digest
		// challenge and then tries WS-UsernameToken with the same
		// credential, so each one sent can cost two failed logins.
		for _, c := range s.creds {
			if s.ledger.Try(s.dev, c, s.now()) {
				creds = append(creds, c)
				break
			}
		}
	}
	dev := s.base + "/onvif/device_service"
	c := &onvif.Client{XAddr: dev, Creds: creds, HTTP: s.hc, Timeout: s.timeout, MaxBody: min(s.maxBody, onvif.DefaultMaxBody), Now: s.now, Log: s.log}
	media := s.base + "/onvif/Media"
	if svcs, err := c.Services(ctx); err == nil {
		for _, sv := range svcs {
			if sv.Namespace == onvif.NSMedia && sameHost(sv.XAddr, t.IP) {
				media = sv.XAddr
			}
		}
	} else if !errors.Is(err, onvif.ErrNotAuthorized) {
		return 0, fmt.Errorf("nvr: onvif at %s: %w", s.base, err)
	}
	m := &onvif.Client{XAddr: media, Creds: creds, HTTP: s.hc, Timeout: s.timeout, MaxBody: c.MaxBody, Now: s.now, Log: s.log}
	if _, err := m.SystemDateAndTime(ctx); err != nil {
		// Some media endpoints do not answer the clock; the device
		// service's clock is the same camera's.
		if _, err := c.SystemDateAndTime(ctx); err == nil {
			if off, ok := c.ClockOffset(); ok {
				m.SetClockOffset(off)
			}
		}
	}
	n, err := m.VideoSources(ctx)
	if err != nil {
		return 0, fmt.Errorf("nvr: onvif video sources at %s: %w", s.base, err)
	}
	return n, nil
}

// sameHost says whether an XAddr points at the target itself (a device
// must not aim us at a third party).
func sameHost(x string, ip netip.Addr) bool {
	u, err := url.Parse(x)
	if err != nil || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	a, err := netip.ParseAddr(u.Hostname())
	return err == nil && a.Unmap() == ip.Unmap()
}

// isISAPIChallenge says whether a 401 body is ISAPI's userCheck document,
// so a refusal still tells a Hikvision recorder apart.
func isISAPIChallenge(body []byte) bool {
	root, err := xmltree.Parse(body, xmltree.Limits{MaxBytes: 16 << 10, MaxDepth: 8, MaxElements: 64})
	return err == nil && strings.EqualFold(root.Name().Local, "userCheck")
}

// recorderType says whether an ISAPI deviceType names something with
// channels behind it ("NVR", "DVR", "HybirdNVR" as Hikvision spells it,
// "DVS"); an empty one is given the benefit of the doubt.
func recorderType(t string) bool {
	t = strings.ToUpper(t)
	return t == "" || strings.Contains(t, "NVR") || strings.Contains(t, "DVR") || strings.Contains(t, "DVS") || strings.Contains(t, "XVR")
}

var recorderRE = regexp.MustCompile(`(?i)(\b(NVR|DVR|XVR|HVR|network video recorder)\b|^DS-[79]\d{3}N|^(DHI-)?NVR\d|^iDS-[79]\d{3}|^XRN-|^QRN-|^PRN-)`)

// LooksLikeRecorder says whether what earlier probes learned about a
// device suggests a recorder (a device class, type or model string of
// one), so the daemon can aim this prober at recorders and not spend
// credentials on every camera. It reads the facts only; nothing is sent.
func LooksLikeRecorder(t probes.Target) bool {
	for _, f := range t.Facts {
		switch f.Key {
		case "dhip.class", "dhip.model", "sadp.model", "onvif.model", "upnp.model_name", "upnp.model_number",
			"upnp.device_type", "http.title", "wsd.hardware", "dvrip.model", "nvr.kind":
			if f.Key == "nvr.kind" || recorderRE.MatchString(f.Value) {
				return true
			}
		}
	}
	return false
}
