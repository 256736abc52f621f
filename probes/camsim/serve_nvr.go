package camsim

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/camwarden/camwarden/probes/nvr"
)

// NVRProfile is a recorder's management API, served on the profile's web
// server (which it needs) under /ISAPI/ (kind hikvision) or /cgi-bin/
// (kind dahua). The channels are the cameras behind the recorder, each
// with the ground truth a test compares the channel's verdict against.
type NVRProfile struct {
	Kind       string `yaml:"kind"`        // hikvision | dahua | onvif (ground truth only)
	DeviceType string `yaml:"device_type"` // ISAPI deviceType (NVR) or Dahua deviceType
	Vendor     string `yaml:"vendor"`      // Dahua getVendor (Lorex, General, ...)
	User       string `yaml:"user"`        // "" answers without credentials
	Password   string `yaml:"password"`
	Auth       string `yaml:"auth"`       // digest (default) | basic
	Realm      string `yaml:"realm"`      // default per kind
	LockAfter  int    `yaml:"lock_after"` // failed logins before the account locks; 0 never
	// LockFor is how long the account stays locked (30m when 0).
	LockFor time.Duration `yaml:"lock_for"`
	// Old leaves model, serialNumber and firmwareVersion out of ISAPI
	// channel descriptors (older NVR firmware).
	Old bool `yaml:"old"`
	// Variant is "", malformed (documents cut short with junk), huge (600
	// padded channels) or slow (every answer waits Delay).
	Variant  string        `yaml:"variant"`
	Delay    time.Duration `yaml:"delay"`
	Channels []NVRChannel  `yaml:"channels"`
}

// NVRChannel is one camera input as the recorder lists it. A channel
// without ip, model or serial is an empty slot.
type NVRChannel struct {
	Number   int    `yaml:"number"` // Hikvision channel id; Dahua lists channels in order
	Name     string `yaml:"name"`
	Protocol string `yaml:"protocol"` // HIKVISION, ONVIF, Private, ...
	IP       string `yaml:"ip"`
	Port     int    `yaml:"port"`
	MAC      string `yaml:"mac"`
	Model    string `yaml:"model"`
	Serial   string `yaml:"serial"`
	Firmware string `yaml:"firmware"`
	Maker    string `yaml:"vendor"` // the vendor the recorder names (Dahua's Vendor field)
	Online   *bool  `yaml:"online"` // nil: the recorder reports it online
	// Ground truth for the camera behind this channel.
	TrueMaker string `yaml:"true_maker"`
	TrueBrand string `yaml:"true_brand"`
	Flagged   bool   `yaml:"flagged"`
}

func init() {
	register("nvr", service{
		enabled: func(p *Profile) bool { return p.NVR != nil },
		start: func(ctx context.Context, p *Profile, h Host, log *slog.Logger) error {
			// The API lives on the web server (mounts below); a profile
			// without one would silently serve nothing.
			if p.HTTP == nil {
				return errors.New("nvr needs an http section: the recorder API is served by the web server")
			}
			switch p.NVR.Kind {
			case "hikvision", "dahua":
			case "onvif":
				// A recorder whose own API we cannot read: the channels
				// are ground truth only, ONVIF counts them.
			default:
				return errors.New("nvr.kind: want hikvision, dahua or onvif")
			}
			<-ctx.Done()
			return nil
		},
	})
	for _, prefix := range []string{"/ISAPI/", "/cgi-bin/", "/camsim/nvr/"} {
		mountHTTP(prefix, func(p *Profile, h Host, port int) http.Handler {
			hp := 80
			if p.HTTP != nil && p.HTTP.Port != 0 {
				hp = p.HTTP.Port
			}
			if p.NVR == nil || port != hp || (p.NVR.Kind != "hikvision" && p.NVR.Kind != "dahua") {
				return nil
			}
			return nvrHandler(p, h)
		})
	}
}

// nvrHandlers keeps one emulator per profile and host, so the mounts of
// one web server share its lock-out state.
var nvrHandlers = newEmulatorCache()

// NVREmulator returns the emulated recorder API for p on h: the handler the
// profile's web server mounts. Tests may read its Stats.
func NVREmulator(p *Profile, h Host) *nvr.Emulator {
	n := p.NVR
	e := &nvr.Emulator{
		Kind: nvr.Kind(n.Kind), DeviceType: n.DeviceType, Model: p.Model, Serial: p.Serial, Firmware: p.Firmware,
		Vendor: n.Vendor, MAC: h.MAC, Old: n.Old, User: n.User, Password: n.Password,
		Realm: p.Expand(n.Realm, h.MAC), Basic: n.Auth == "basic", LockAfter: n.LockAfter, LockFor: n.LockFor,
		Variant: n.Variant, Delay: n.Delay,
	}
	for _, c := range n.Channels {
		on := c.Online
		if on == nil && (c.IP != "" || c.Model != "") {
			t := true
			on = &t
		}
		e.Channels = append(e.Channels, nvr.Channel{
			Number: c.Number, Name: c.Name, Protocol: c.Protocol, IP: c.IP, Port: c.Port, MAC: c.MAC,
			Model: c.Model, Serial: c.Serial, Firmware: c.Firmware, Maker: c.Maker, Online: on,
		})
	}
	return e
}

func nvrHandler(p *Profile, h Host) http.Handler { return nvrHandlers.get(p, h) }
