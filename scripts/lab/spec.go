package lab

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/camwarden/camwarden/probes/camsim"
)

// The spec files ship inside the package so `cwlab up` works from any
// directory; a path on disk still wins (see LoadSpec).
//
//go:embed lab.yaml lab50.yaml
var specFS embed.FS

// Fixed lab addressing (all inside 198.18.0.0/15, the benchmarking range).
var (
	CameraNet   = netip.MustParsePrefix("198.18.1.0/24")
	CoreNet     = netip.MustParsePrefix("198.18.2.0/24")
	GatewayIP   = netip.MustParseAddr("198.18.1.1")  // gateway on the camera VLAN
	ApplianceIP = netip.MustParseAddr("198.18.1.2")  // appliance namespace
	UplinkIP    = netip.MustParseAddr("198.18.2.1")  // gateway end of the uplink
	CoreIP      = netip.MustParseAddr("198.18.2.10") // the "core network" host
	firstDevice = 10                                 // devices get 198.18.1.10 upwards
	maxDevices  = 254 - firstDevice + 1
)

// Spec is a lab described in YAML: which emulated devices sit on the camera
// VLAN. Addresses, MACs and namespaces are derived, so two specs with the same
// device list always produce the same lab.
type Spec struct {
	Name    string        `yaml:"name"`
	Devices []SpecDevice  `yaml:"devices"`
	Source  string        `yaml:"-"` // where it was read from, for messages
	devices []plannedHost // filled by Validate
}

// SpecDevice is one entry of the spec: a profile and how many hosts run it.
// With Count > 1 the hosts are named "<name>-1" .. "<name>-<count>".
type SpecDevice struct {
	Name    string `yaml:"name"`    // defaults to the profile name
	Profile string `yaml:"profile"` // camsim profile
	Count   int    `yaml:"count"`   // default 1
}

// plannedHost is one device as the spec resolves it, before anything exists.
type plannedHost struct {
	name    string
	profile camsim.Profile
	mac     net.HardwareAddr
	ip      netip.Addr
}

// reserved names are the lab's own namespaces.
var reserved = map[string]bool{"sw": true, "gw": true, "core": true, "app": true}

// Namespace names end up in /run/netns and in messages; keep them plain.
var deviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// ParseSpec decodes and validates a spec. source names it in errors.
func ParseSpec(data []byte, source string) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("lab: spec %s: %w", source, err)
	}
	s.Source = source
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadSpec reads a spec from a file, or, when no such file exists, from the
// specs built into the package ("lab", "lab.yaml", "lab50", "lab50.yaml").
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return ParseSpec(data, path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab: spec: %w", err)
	}
	name := path
	if !strings.HasSuffix(name, ".yaml") {
		name += ".yaml"
	}
	if data, eerr := specFS.ReadFile(name); eerr == nil {
		return ParseSpec(data, "builtin:"+name)
	}
	return nil, fmt.Errorf("lab: spec %s: no such file and no built-in spec of that name (have lab, lab50)", path)
}

// Validate checks every field and resolves the device list: names, MACs
// (profile.MAC(n), n counting per profile across the whole spec) and
// addresses (198.18.1.10 upwards, in spec order).
func (s *Spec) Validate() error {
	src := s.Source
	if src == "" {
		src = "spec"
	}
	if len(s.Devices) == 0 {
		return fmt.Errorf("lab: %s: devices: empty", src)
	}
	perProfile := map[string]int{}
	seen := map[string]bool{}
	s.devices = nil
	for i, d := range s.Devices {
		field := fmt.Sprintf("lab: %s: devices[%d]", src, i)
		if d.Profile == "" {
			return fmt.Errorf("%s.profile: missing", field)
		}
		p, err := camsim.Lookup(d.Profile)
		if err != nil {
			return fmt.Errorf("%s.profile: %w", field, err)
		}
		count := d.Count
		switch {
		case count == 0:
			count = 1
		case count < 0 || count > maxDevices:
			return fmt.Errorf("%s.count: %d out of range 1..%d", field, d.Count, maxDevices)
		}
		base := d.Name
		if base == "" {
			base = d.Profile
		}
		for k := 1; k <= count; k++ {
			name := base
			if d.Count > 1 {
				name = fmt.Sprintf("%s-%d", base, k)
			}
			if !deviceName.MatchString(name) || reserved[name] {
				return fmt.Errorf("%s.name: %q must be lower-case letters, digits and '-', at most 32, and not one of sw, gw, core, app", field, name)
			}
			if seen[name] {
				return fmt.Errorf("%s.name: duplicate device %q", field, name)
			}
			seen[name] = true
			if len(s.devices) >= maxDevices {
				return fmt.Errorf("%s: more than %d devices do not fit in %s from .%d", field, maxDevices, CameraNet, firstDevice)
			}
			perProfile[p.Name]++
			s.devices = append(s.devices, plannedHost{
				name:    name,
				profile: p,
				mac:     p.MAC(perProfile[p.Name]),
				ip:      hostAddr(CameraNet, firstDevice+len(s.devices)),
			})
		}
	}
	return nil
}

// Len returns the number of devices the spec resolves to.
func (s *Spec) Len() int { return len(s.devices) }

// hostAddr returns host number n of a /24.
func hostAddr(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr().As4()
	a[3] = byte(n)
	return netip.AddrFrom4(a)
}

// Plan returns the devices the spec resolves to, with their ground truth,
// MACs and addresses; namespaces and processes are filled in by Up.
func (s *Spec) Plan() []Device {
	out := make([]Device, len(s.devices))
	for i, p := range s.devices {
		out[i] = Device{
			Name: p.name, Profile: p.profile.Name, MAC: p.mac, IP: p.ip,
			Maker: p.profile.Maker, Brand: p.profile.Brand, Flagged: p.profile.Flagged,
			Model: p.profile.Model, Serial: p.profile.Serial,
		}
	}
	return out
}
