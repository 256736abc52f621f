package camsim

import (
	_ "embed"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Profile is one emulated kind of device. The Maker/Brand/Flagged fields are
// the ground truth tests compare verdicts against; everything else is what
// the device shows on the wire. A nil section means the device does not speak
// that protocol.
type Profile struct {
	Name        string `yaml:"name"`        // profile id, e.g. "hikvision"
	Description string `yaml:"description"` // one line for humans
	Maker       string `yaml:"maker"`       // canonical maker id; "" when no maker can be named
	Brand       string `yaml:"brand"`       // label on the box when it differs from the maker
	Flagged     bool   `yaml:"flagged"`     // expected under the default policy
	// Components are restricted parts the verdict should name (ground truth).
	Components  []string `yaml:"components"`
	Model       string   `yaml:"model"`        // model as the device reports it
	Serial      string   `yaml:"serial"`       // serial as the device reports it
	Firmware    string   `yaml:"firmware"`     // firmware version string
	OUI         string   `yaml:"oui"`          // "44:19:B6": MACs the lab gives this profile start with it
	Hostname    string   `yaml:"hostname"`     // DHCP option 12
	VendorClass string   `yaml:"vendor_class"` // DHCP option 60
	// DHCPRetry, when set, makes the device keep sending its DHCP DISCOVER
	// at this interval after booting, as a client no server answers does
	// (udhcpc retries). Replay labs use it so a survey started after the
	// device booted still hears option 60 and 12.
	DHCPRetry time.Duration `yaml:"dhcp_retry"`

	HTTP  *HTTPProfile  `yaml:"http"`
	HTTPS *HTTPProfile  `yaml:"https"` // served over TLS with a certificate built from TLS
	TLS   *TLSProfile   `yaml:"tls"`
	RTSP  *RTSPProfile  `yaml:"rtsp"`
	ONVIF *ONVIFProfile `yaml:"onvif"` // SOAP device service, and WS-Discovery when WSD is set
	WSD   *WSDProfile   `yaml:"wsd"`
	SADP  *SADPProfile  `yaml:"sadp"`
	DHIP  *DHIPProfile  `yaml:"dhip"`
	DVRIP bool          `yaml:"dvrip"`    // answers Dahua DVRIP discovery on UDP 5050
	XM    bool          `yaml:"xiongmai"` // runs the Xiongmai NetSurveillance service on TCP 34567
	SSDP  *SSDPProfile  `yaml:"ssdp"`
	MDNS  *MDNSProfile  `yaml:"mdns"`
	// TCP lists raw TCP services that answer any bytes with a fixed reply
	// (Hikvision 8000, Dahua 37777), as hex.
	TCP    []TCPBanner    `yaml:"tcp"`
	Telnet *TelnetProfile `yaml:"telnet"`
	FTP    *FTPProfile    `yaml:"ftp"`
	SNMP   *SNMPProfile   `yaml:"snmp"`
	// NVR is a recorder's management API (ISAPI or Dahua CGI) on the web
	// server, listing the cameras behind it; see serve_nvr.go.
	NVR *NVRProfile `yaml:"nvr"`
}

// TelnetProfile is a telnet server that greets like BusyBox telnetd: it
// offers its options, then prints Banner after a blank line and waits.
// Banner is what the telnet prober reports as telnet.banner, e.g.
// {banner: "192.0.0.64 login:"}; a "\n" in it becomes a line break.
type TelnetProfile struct {
	Port   int    `yaml:"port"` // default 23
	Banner string `yaml:"banner"`
}

// FTPProfile is an FTP server's greeting: it sends "220 <banner>" (a
// multi-line 220 reply when Banner holds "\n") and refuses every login.
// Banner is what the FTP prober reports as ftp.banner, without the code,
// e.g. {banner: "Welcome to Network Camera FTP Server"}.
type FTPProfile struct {
	Port   int    `yaml:"port"` // default 21
	Banner string `yaml:"banner"`
}

// SNMPProfile is an SNMP v2c agent answering GET for sysDescr.0 and
// sysObjectID.0 to one community, e.g. {community: lab-ro, sys_descr:
// "...", sys_object_id: "1.3.6.1.4.1.39165.1.1"}. A request with another
// community gets no answer, as real agents do. The facts the SNMP prober
// reports are snmp.sys_descr and snmp.sys_object_id with these values.
type SNMPProfile struct {
	Port        int    `yaml:"port"`      // UDP; default 161
	Community   string `yaml:"community"` // required: there is no default community
	SysDescr    string `yaml:"sys_descr"`
	SysObjectID string `yaml:"sys_object_id"` // dotted, leading dot optional; "" answers noSuchInstance
}

// HTTPProfile is what the device's web server shows.
type HTTPProfile struct {
	Port   int    `yaml:"port"`   // default 80 (443 for https)
	Server string `yaml:"server"` // Server header; "" sends none
	// Realm, when set, makes protected paths answer 401 with
	// WWW-Authenticate: <AuthScheme> realm="<Realm>".
	Realm      string `yaml:"realm"`
	AuthScheme string `yaml:"auth_scheme"` // "Digest" (default) or "Basic"
	Title      string `yaml:"title"`       // <title> of GET /
	Redirect   string `yaml:"redirect"`    // GET / answers 302 to this path when set
	// UpperHeaders writes header names in upper case (CONTENT-LENGTH:), as
	// Dahua's web server does.
	UpperHeaders bool              `yaml:"upper_headers"`
	Headers      map[string]string `yaml:"headers"` // extra headers on every answer
	// Paths maps a path to its status; 401 ones carry the realm. Bodies are
	// small and fixed.
	Paths map[string]int `yaml:"paths"`
	// Bodies optionally gives the body for a path (e.g. ISAPI XML).
	Bodies map[string]string `yaml:"bodies"`
	// AnyPath is how the server answers other paths: "" or "404" (not
	// found), "200" (the root page, like a single-page interface) or "401"
	// (every path, including "/" and the configured ones, asks for
	// credentials with the realm). See httpprobe.Responder.AnyPath.
	AnyPath string `yaml:"any_path"`
}

// TLSProfile is the subject/issuer of the self-signed certificate.
type TLSProfile struct {
	CommonName   string `yaml:"cn"`
	Organization string `yaml:"o"`
	Issuer       string `yaml:"issuer_cn"` // issuer CN; "" means self-signed with the subject
}

// RTSPProfile is what the device's RTSP server on 554 shows.
type RTSPProfile struct {
	Port   int    `yaml:"port"`   // default 554
	Server string `yaml:"server"` // Server header
	Realm  string `yaml:"realm"`  // DESCRIBE answers 401 Digest realm=... when set
	Public string `yaml:"public"` // Public header of OPTIONS
}

// ONVIFProfile is the ONVIF device service.
type ONVIFProfile struct {
	Port         int    `yaml:"port"` // default 80 (shares the HTTP server) or its own
	Path         string `yaml:"path"` // default /onvif/device_service
	Manufacturer string `yaml:"manufacturer"`
	Model        string `yaml:"model"`    // defaults to Profile.Model
	HardwareID   string `yaml:"hardware"` // HardwareId
	User         string `yaml:"user"`     // credentials it accepts; "" = no auth needed
	Password     string `yaml:"password"`
	// Auth is "wsse" (WS-UsernameToken digest, default), "digest" (HTTP
	// Digest only) or "none".
	Auth string `yaml:"auth"`
	// ClockOffset is how far the camera's clock is from true time; a
	// WS-UsernameToken created outside ±5 minutes of the camera's clock is refused.
	ClockOffset time.Duration `yaml:"clock_offset"`
	// VideoSources is how many video sources GetVideoSources lists (an
	// NVR's channels); 0 lists none.
	VideoSources int `yaml:"video_sources"`
}

// WSDProfile is the WS-Discovery target.
type WSDProfile struct {
	// Endpoint is the EndpointReference address; "{mac}" is replaced with
	// the host's MAC as 12 lower-case hex digits (Hikvision style).
	Endpoint string   `yaml:"endpoint"`
	Types    string   `yaml:"types"`  // e.g. "dn:NetworkVideoTransmitter tds:Device"
	Scopes   []string `yaml:"scopes"` // "{mac}" and "{model}" are substituted
	// OnlyNVT makes the device answer only Probes typed NetworkVideoTransmitter.
	OnlyNVT bool `yaml:"only_nvt"`
	// Twice sends each ProbeMatch twice, like wsdd and some cameras.
	Twice bool `yaml:"twice"`
	// EphemeralReply answers from a random port instead of 3702.
	EphemeralReply bool `yaml:"ephemeral_reply"`
}

// SADPProfile is Hikvision's SADP responder.
type SADPProfile struct {
	DeviceType  string `yaml:"device_type"` // numeric DeviceType
	Description string `yaml:"description"` // DeviceDescription; defaults to Model
	DeviceSN    string `yaml:"device_sn"`   // full DeviceSN; defaults to Model+Serial
	DSPVersion  string `yaml:"dsp_version"`
	OEMCode     string `yaml:"oem_code"` // DetailOEMCode
	Activated   bool   `yaml:"activated"`
	HideMAC     bool   `yaml:"hide_mac"` // newer firmware omits the MAC
}

// DHIPProfile is Dahua's DHIP discovery responder.
type DHIPProfile struct {
	DeviceClass  string `yaml:"device_class"` // "IPC", "NVR", ...
	Vendor       string `yaml:"vendor"`       // OEM brand as reported ("General", "Lorex", "Private")
	Manufacturer string `yaml:"manufacturer"` // sometimes present
}

// SSDPProfile is a UPnP root device.
type SSDPProfile struct {
	Server       string `yaml:"server"` // SERVER header
	DeviceType   string `yaml:"device_type"`
	Manufacturer string `yaml:"manufacturer"`
	ModelName    string `yaml:"model_name"`
	ModelNumber  string `yaml:"model_number"`
	FriendlyName string `yaml:"friendly_name"`
	Port         int    `yaml:"port"` // description HTTP port; default 49152
}

// MDNSProfile is the device's Bonjour presence.
type MDNSProfile struct {
	Instance string   `yaml:"instance"` // "{model}" and "{serial}" substituted
	Services []string `yaml:"services"` // "_http._tcp", "_rtsp._tcp", ...
	TXT      []string `yaml:"txt"`
}

// TCPBanner is a raw TCP service answering any bytes with Reply (hex).
type TCPBanner struct {
	Port  int    `yaml:"port"`
	Reply string `yaml:"reply"`
}

//go:embed profiles.yaml
var profilesYAML []byte

// Profiles returns the built-in profiles in file order.
func Profiles() ([]Profile, error) {
	return ParseProfiles(profilesYAML, "profiles.yaml")
}

// Lookup returns the named built-in profile.
func Lookup(name string) (Profile, error) {
	ps, err := Profiles()
	if err != nil {
		return Profile{}, err
	}
	for _, p := range ps {
		if p.Name == name {
			return p, nil
		}
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return Profile{}, fmt.Errorf("camsim: no profile %q (have %s)", name, strings.Join(names, ", "))
}

func parseOUI(s string) ([3]byte, error) {
	var o [3]byte
	hw, err := net.ParseMAC(s + ":00:00:00")
	if err != nil || len(hw) != 6 {
		return o, fmt.Errorf("bad OUI %q (want aa:bb:cc)", s)
	}
	copy(o[:], hw[:3])
	return o, nil
}

// MAC returns the MAC the lab gives the n-th host (n >= 1) of this profile:
// the profile's OUI followed by a lab marker and n, or a locally administered
// address when the profile has no OUI.
func (p Profile) MAC(n int) net.HardwareAddr {
	o := [3]byte{0x02, 0xc4, 0x00} // locally administered
	if p.OUI != "" {
		o, _ = parseOUI(p.OUI)
	}
	return net.HardwareAddr{o[0], o[1], o[2], 0xc4, byte(n >> 8), byte(n)}
}

// Expand substitutes {mac}, {model} and {serial} in a profile string.
func (p Profile) Expand(s string, mac net.HardwareAddr) string {
	r := strings.NewReplacer(
		"{mac}", strings.ReplaceAll(mac.String(), ":", ""),
		"{MAC}", strings.ToUpper(strings.ReplaceAll(mac.String(), ":", "")),
		"{model}", p.Model,
		"{serial}", p.Serial,
	)
	return r.Replace(s)
}

// Host is where a profile runs: its interface, MAC and address.
type Host struct {
	Iface string // interface name inside the host's namespace ("eth0"); "" for loopback tests
	MAC   net.HardwareAddr
	IP    netip.Addr
	// PortOffset is added to every listening port, so unit tests can run
	// several emulated devices on 127.0.0.1 without root. 0 in the lab.
	PortOffset int
}

// Port returns the port a service listens on for this host.
func (h Host) Port(p int) int { return p + h.PortOffset }

// Services lists the names of the responders this profile runs, sorted.
func (p Profile) Services() []string {
	var s []string
	for name, svc := range services {
		if svc.enabled(&p) {
			s = append(s, name)
		}
	}
	slices.Sort(s)
	return s
}
