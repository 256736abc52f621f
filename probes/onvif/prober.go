package onvif

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// Prober asks a host's ONVIF device service who made it. It implements
// probes.Prober.
type Prober struct {
	Creds   []Credential  // from configuration, tried in order
	HTTP    *http.Client  // NewHTTPClient() when nil
	Timeout time.Duration // per call
	MaxBody int64
	Now     func() time.Time
	Log     *slog.Logger
}

// Name implements probes.Prober.
func (p *Prober) Name() string { return "onvif" }

// XAddrs lists the device-service URLs to try for t: the WS-Discovery
// XAddrs that point at t's own address, else http://IP/onvif/device_service.
// XAddrs naming another host are ignored: a device must not be able to
// aim the appliance at a third party.
func XAddrs(t probes.Target) []string {
	var out []string
	for _, f := range t.Facts {
		if f.Key != "wsd.xaddr" {
			continue
		}
		u, err := url.Parse(f.Value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
			continue
		}
		a, err := netip.ParseAddr(u.Hostname())
		if err != nil || a.Unmap() != t.IP.Unmap() {
			continue
		}
		out = append(out, u.String())
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 && t.IP.IsValid() {
		out = append(out, "http://"+net.JoinHostPort(t.IP.String(), "80")+"/onvif/device_service")
	}
	return out
}

// Probe implements probes.Prober. It emits one observation with whatever
// it learned, even when authentication is refused or later calls fail, and
// returns an error only when no ONVIF service answered at all.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	xaddrs := XAddrs(t)
	if len(xaddrs) == 0 {
		return fmt.Errorf("onvif: no address for target %s", t.IP)
	}
	var (
		c    *Client
		errs []error
	)
	for _, x := range xaddrs {
		cl := &Client{XAddr: x, Creds: p.Creds, HTTP: p.HTTP, Timeout: p.Timeout, MaxBody: p.MaxBody, Now: now, Log: log}
		if _, err := cl.SystemDateAndTime(ctx); err != nil {
			errs = append(errs, err)
			// A fault is still an ONVIF answer (some devices want
			// credentials even for the clock); anything else is not.
			var f *Fault
			if !errors.As(err, &f) && !errors.Is(err, ErrNotAuthorized) {
				continue
			}
		}
		c = cl
		break
	}
	if c == nil {
		return errors.Join(errs...)
	}

	var fs []probes.Fact
	add := func(k, v string) {
		if v != "" && len(fs) < probes.MaxFacts {
			fs = append(fs, probes.F(k, v))
		}
	}
	if off, ok := c.ClockOffset(); ok {
		add("onvif.clock_offset", off.String())
	}
	step := func(name string, err error) {
		if err != nil {
			log.Debug("onvif: step failed", "step", name, "target", t.IP, "err", err)
		}
	}
	if ctx.Err() == nil {
		info, err := c.DeviceInformation(ctx)
		step("GetDeviceInformation", err)
		add("onvif.manufacturer", info.Manufacturer)
		add("onvif.model", info.Model)
		add("onvif.firmware", info.FirmwareVersion)
		add("onvif.serial", info.SerialNumber)
		add("onvif.hardware_id", info.HardwareID)
	}
	if ctx.Err() == nil {
		scopes, err := c.Scopes(ctx)
		step("GetScopes", err)
		for _, s := range scopes {
			add("onvif.scope", s)
		}
	}
	if ctx.Err() == nil {
		ifs, err := c.NetworkInterfaces(ctx)
		step("GetNetworkInterfaces", err)
		for _, i := range ifs {
			if hw, err := net.ParseMAC(i.HwAddress); err == nil {
				add("onvif.mac", hw.String())
			}
		}
	}
	if ctx.Err() == nil {
		svcs, err := c.Services(ctx)
		step("GetServices", err)
		for _, s := range svcs {
			add("onvif.service", s.Namespace)
		}
	}
	if a := c.Auth(); a != AuthUnknown {
		add("onvif.auth", string(a))
	}
	emit(probes.Observation{Time: now(), MAC: t.MAC, IP: t.IP, Probe: "onvif", Facts: fs})
	return nil
}
