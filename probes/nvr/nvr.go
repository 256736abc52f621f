package nvr

import (
	"strconv"
	"time"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/onvif"
)

// Credential is one user/password pair. It is onvif's type, whose String,
// GoString, LogValue and MarshalText hide the password.
type Credential = onvif.Credential

// Kind is which management API answered.
type Kind string

// Kinds of recorder API.
const (
	KindUnknown   Kind = ""
	KindHikvision Kind = "hikvision" // ISAPI (Hikvision and its OEMs)
	KindDahua     Kind = "dahua"     // CGI (Dahua and its OEMs: Lorex, Amcrest, ...)
	KindHuawei    Kind = "huawei"    // SDCAPI
	KindONVIF     Kind = "onvif"     // only ONVIF answered: a count, no list
)

// Auth outcomes, the value of the nvr.auth fact and Result.Auth.
const (
	AuthNone          = "none-needed"
	AuthBasic         = "basic"
	AuthDigest        = "digest"
	AuthRefused       = "refused"        // every credential tried was refused
	AuthLocked        = "locked"         // the device is locked out; nothing was tried
	AuthNoCredentials = "no-credentials" // the device wants credentials and none apply
	AuthNotTried      = "not-tried"      // every credential already failed this sweep
	AuthLastTry       = "one-try-left"   // the device would lock on one more failure; nothing was tried
)

// Bounds.
const (
	DefaultMaxBody     = 1 << 20 // one answer; a 256-channel ISAPI list is ~250 KiB
	DefaultMaxChannels = 256
	DefaultTimeout     = 5 * time.Second
)

// Channel is one camera input of a recorder as the recorder describes it.
// Every string is the device's own words, cleaned by probes.Clean.
type Channel struct {
	Number   int    // as the NVR's web interface numbers it
	Name     string // the installer's label
	Protocol string // how the NVR talks to the camera: HIKVISION, ONVIF, Private, ...
	IP       string // the camera's address on the NVR's PoE network (or the LAN)
	Port     int    // the camera's management port the NVR uses; 0 when not given
	MAC      string
	Model    string
	Serial   string
	Firmware string
	Maker    string // the vendor the NVR names for the camera (Dahua "Vendor")
	Online   *bool  // nil when the NVR did not say
	// Via is the API the channel was read from; Protocol means different
	// things on different makes' recorders ("Private" is Dahua's own).
	Via Kind
}

// ChannelProbe is the probe name for observations about a channel camera
// (the keys of Channel.Facts start with it).
const ChannelProbe = "behind"

// Facts are the channel's claims as behind.* facts, for the classifier to
// judge the channel camera as a device of its own. nvrIP is the
// recorder's address (for behind.nvr).
func (c Channel) Facts(nvrIP string) []probes.Fact {
	var fs []probes.Fact
	add := func(k, v string) {
		if v != "" {
			fs = append(fs, probes.F(ChannelProbe+"."+k, v))
		}
	}
	add("nvr", nvrIP+" ch"+strconv.Itoa(c.Number))
	add("via", string(c.Via))
	add("channel", strconv.Itoa(c.Number))
	add("name", c.Name)
	add("protocol", c.Protocol)
	add("ip", c.IP)
	if c.Port > 0 {
		add("port", strconv.Itoa(c.Port))
	}
	add("mac", c.MAC)
	add("model", c.Model)
	add("serial", c.Serial)
	add("firmware", c.Firmware)
	add("maker", c.Maker)
	if c.Online != nil {
		add("online", strconv.FormatBool(*c.Online))
	}
	return fs
}

// Result is what one probe learned about a recorder.
type Result struct {
	Kind       Kind
	DeviceType string // Hikvision deviceType (NVR, DVR, IPCamera), Dahua getDeviceType
	Model      string
	Serial     string
	Firmware   string
	Vendor     string // Dahua getVendor (the OEM label: Lorex, General, ...)
	MAC        string
	// ChannelCount is how many cameras the recorder has: the channels it
	// listed, or its ONVIF video sources when it listed none.
	ChannelCount int
	VideoSources int // ONVIF GetVideoSources count; 0 when not asked or not answered
	Empty        int // listed slots without a camera
	Channels     []Channel
	Truncated    bool   // the list was cut at MaxChannels
	Auth         string // one of the Auth* constants; "" when nothing asked for credentials
}

// Facts are the recorder's own facts (probe "nvr").
func (r *Result) Facts() []probes.Fact {
	var fs []probes.Fact
	add := func(k, v string) {
		if v != "" && len(fs) < probes.MaxFacts {
			fs = append(fs, probes.F(k, v))
		}
	}
	add("nvr.kind", string(r.Kind))
	add("nvr.device_type", r.DeviceType)
	add("nvr.model", r.Model)
	add("nvr.serial", r.Serial)
	add("nvr.firmware", r.Firmware)
	add("nvr.vendor", r.Vendor)
	add("nvr.mac", r.MAC)
	if r.ChannelCount > 0 || len(r.Channels) > 0 {
		add("nvr.channels", strconv.Itoa(r.ChannelCount))
		online := 0
		for _, c := range r.Channels {
			if c.Online != nil && *c.Online {
				online++
			}
		}
		add("nvr.channels_online", strconv.Itoa(online))
	}
	if r.VideoSources > 0 {
		add("nvr.video_sources", strconv.Itoa(r.VideoSources))
	}
	if r.Truncated {
		add("nvr.truncated", "true")
	}
	add("nvr.auth", r.Auth)
	return fs
}

func boolp(b bool) *bool { return &b }
