package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed sample.yaml
var sample []byte

// Sample returns the documented sample configuration.
func Sample() []byte { return bytes.Clone(sample) }

// Config is the whole configuration file.
type Config struct {
	ApplianceID string `yaml:"appliance_id"` // default: derived from /etc/machine-id
	// Site names where the appliance is installed; a signed policy scoped
	// to sites applies only on appliances configured with one of them.
	Site       string      `yaml:"site"`
	StateDir   string      `yaml:"state_dir"`
	LogLevel   string      `yaml:"log_level"` // debug | info | warn | error
	Interfaces []Interface `yaml:"interfaces"`
	Probing    Probing     `yaml:"probing"`
	Policy     Policy      `yaml:"policy"`
	Board      Board       `yaml:"board"`
	Inventory  Inventory   `yaml:"inventory"`
	MQTT       MQTT        `yaml:"mqtt"`
	Watchdog   Watchdog    `yaml:"watchdog"`
	OTA        OTA         `yaml:"ota"`
}

// OTA configures firmware updates (jobs arrive over MQTT, signed releases
// chain to policy.root_key).
type OTA struct {
	CAFile       string        `yaml:"ca_file"`       // CA bundle for release repositories; "" = system roots
	TrialTimeout time.Duration `yaml:"trial_timeout"` // how long a new firmware has to pass its health gate
}

// Interface is one link the appliance watches. Active probing happens only on
// interfaces named here.
type Interface struct {
	Name        string   `yaml:"name"`        // e.g. eth0 or eth0.20
	Subnets     []string `yaml:"subnets"`     // CIDRs to sweep; default: the interface's own IPv4 subnet
	Promiscuous bool     `yaml:"promiscuous"` // for a mirror (SPAN) port
}

// Credential is one ONVIF user/password pair tried in order. The password is
// never logged: Credential's String hides it.
type Credential struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

func (c Credential) String() string { return c.User + ":<hidden>" }

// Probing controls active identification.
type Probing struct {
	PassiveOnly   bool          `yaml:"passive_only"`
	SweepInterval time.Duration `yaml:"sweep_interval"` // periodic re-sweep; 0 = only at start
	Concurrency   int           `yaml:"concurrency"`    // hosts probed at once
	PerHost       int           `yaml:"per_host"`       // probes at once against one host
	RatePPS       int           `yaml:"rate_pps"`       // global cap per second on ARP requests and probe starts (see Default)
	Timeout       time.Duration `yaml:"timeout"`        // per probe
	Discovery     time.Duration `yaml:"discovery"`      // the longest a discovery round listens; it ends sooner once answers stop
	Disabled      []string      `yaml:"disabled"`       // probe names not to run
	ONVIF         []Credential  `yaml:"onvif_credentials"`
	// SNMPCommunities are the SNMP v2c read communities tried in order.
	// None (the default) means SNMP is never sent: a community is never
	// guessed.
	SNMPCommunities []Community `yaml:"snmp_communities"`
	// Credentials are installer accounts for recorders' management APIs
	// (the cameras behind an NVR), matched to a device by address or
	// maker: see CredentialsFor and credentials.go. Passwords are never
	// logged.
	Credentials []DeviceCredential `yaml:"credentials"`
	// CredentialsFile holds more credentials entries, kept out of this
	// file (mode 0600 or stricter); a bare name is looked up in systemd's
	// $CREDENTIALS_DIRECTORY (LoadCredential=). Load reads it.
	CredentialsFile string `yaml:"credentials_file"`
}

// Community is an SNMP community string. It is a password: String and
// GoString hide it, so printing a Config does not reveal it.
type Community string

func (Community) String() string   { return "<hidden>" }
func (Community) GoString() string { return "<hidden>" }

// Limits on probing.snmp_communities: each is one more request per device.
const (
	MaxSNMPCommunities = 8
	maxCommunityLen    = 255 // octets; RFC 3584 SnmpAdminString
)

// Allow is one allow-list entry.
type Allow struct {
	MAC     string    `yaml:"mac"`
	Serial  string    `yaml:"serial"`
	Reason  string    `yaml:"reason"`
	Expires time.Time `yaml:"expires"`
}

// Policy is the local policy used until a signed policy arrives.
type Policy struct {
	FlaggedMakers     []string          `yaml:"flagged_makers"`
	FlaggedComponents []string          `yaml:"flagged_components"`
	Actions           map[string]string `yaml:"actions"`     // maker -> alert | isolate
	MinIsolate        string            `yaml:"min_isolate"` // weak | strong | definitive
	HoldTime          time.Duration     `yaml:"hold_time"`
	AutoRestore       bool              `yaml:"auto_restore"`
	Allow             []Allow           `yaml:"allow"`
	// RootKey is the base64 ed25519 public key that signed policies must chain to.
	RootKey string `yaml:"root_key"`
}

// Board selects and wires the hardware.
type Board struct {
	Kind   string            `yaml:"kind"` // periph | console | none
	LEDs   map[string]string `yaml:"leds"` // LED name -> GPIO pin name
	Relay  Relay             `yaml:"relay"`
	Button string            `yaml:"button"` // GPIO pin of the acknowledge button; "" = none
	// LabRelay makes "relay open" set a link down in a namespace (lab only).
	LabRelay *LabRelay `yaml:"lab_relay"`
}

// Relay is the uplink relay's wiring.
type Relay struct {
	Pin      string `yaml:"pin"`      // "" = no relay
	Active   string `yaml:"active"`   // high | low: the level that energises the coil
	Contacts string `yaml:"contacts"` // normally_closed | normally_open: the uplink runs through these
}

// FailMode says what the uplink does when the appliance is unpowered: with
// normally-closed contacts the uplink stays connected (fail_open); with
// normally-open contacts it is cut (fail_secure).
func (r Relay) FailMode() string {
	if r.Contacts == "normally_open" {
		return "fail_secure"
	}
	return "fail_open"
}

// LabRelay points the lab relay at a link in a namespace.
type LabRelay struct {
	Netns string `yaml:"netns"`
	Link  string `yaml:"link"`
}

// Inventory bounds the device table.
type Inventory struct {
	MaxDevices  int           `yaml:"max_devices"`
	ForgetAfter time.Duration `yaml:"forget_after"` // devices unseen this long are forgotten
	GoneAfter   time.Duration `yaml:"gone_after"`   // devices unseen this long count as gone for enforcement
}

// MQTT is the central broker link; an empty Broker disables it.
type MQTT struct {
	Broker       string        `yaml:"broker"` // tcp://host:1883 or ssl://host:8883
	Username     string        `yaml:"username"`
	PasswordFile string        `yaml:"password_file"`
	CAFile       string        `yaml:"ca_file"`
	CertFile     string        `yaml:"cert_file"`
	KeyFile      string        `yaml:"key_file"`
	OutboxMax    int           `yaml:"outbox_max_events"`
	OutboxMaxAge time.Duration `yaml:"outbox_max_age"`
	// TeleInterval is how often telemetry (tele, QoS 0) is published; 0
	// turns it off.
	TeleInterval time.Duration `yaml:"tele_interval"`
}

// Watchdog controls the systemd and hardware watchdogs.
type Watchdog struct {
	Hardware string `yaml:"hardware"` // e.g. /dev/watchdog; "" = not used
}

// ProbeNames lists every probe, for probing.disabled.
var ProbeNames = []string{"arp", "dhcp", "dhip", "dvrip", "ftp", "http", "https", "ipv6", "lldp", "mdns", "onvif", "rtsp",
	"nvr", "sadp", "snmp", "ssdp", "tcpbanner", "telnet", "wsd", "xm"}

// Default returns the configuration used for every field the file leaves out.
func Default() Config {
	return Config{
		StateDir: "/var/lib/camwarden",
		LogLevel: "info",
		Probing: Probing{
			SweepInterval: 5 * time.Minute,
			Concurrency:   32,
			PerHost:       4,
			// 2,000 a second: a /24 ARP sweep in 0.13 s, and the
			// 200-device lab's ~2,400 probe starts in about 1.2 s instead
			// of 4.8 s (the cap, not the network, was the floor). Measured
			// on the wire there, the survey's peak is the same at 500 and
			// 2,000 (12.7k and 14.1k packets/s over 100 ms, 17-19 Mbit/s,
			// ~23,000 packets either way): the faster cap shortens the
			// tail, it does not raise the load. Each device still gets at
			// most per_host probes at once.
			RatePPS:   2000,
			Timeout:   3 * time.Second,
			Discovery: 3 * time.Second,
		},
		Policy: Policy{
			FlaggedMakers:     []string{"hikvision", "dahua", "huawei", "zte", "hytera"},
			FlaggedComponents: []string{"hisilicon"},
			MinIsolate:        "strong",
			HoldTime:          10 * time.Minute,
		},
		Board: Board{
			Kind:  "none",
			Relay: Relay{Active: "high", Contacts: "normally_closed"},
		},
		Inventory: Inventory{MaxDevices: 4096, ForgetAfter: 7 * 24 * time.Hour, GoneAfter: 10 * time.Minute},
		MQTT:      MQTT{OutboxMax: 100000, OutboxMaxAge: 7 * 24 * time.Hour, TeleInterval: time.Minute},
		OTA:       OTA{TrialTimeout: 2 * time.Minute},
	}
}

// Load reads path over the defaults and validates the result. Unknown fields
// are errors: a misspelt key must not silently fall back to a default.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := LoadCredentials(&c, os.Getenv); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads YAML over the defaults and validates.
func Parse(b []byte) (Config, error) {
	c := Default()
	if len(bytes.TrimSpace(b)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return Config{}, err
		}
	}
	return c, c.Validate()
}

var (
	idRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)
	siteRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`) // as ota/policy's scope.sites
	pinRE   = regexp.MustCompile(`^GPIO(0|[1-9][0-9]?)$`)
	ifaceRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,15}$`)
)

// maxBCMPin is the highest BCM GPIO number of the Pi SoCs (BCM2711 has
// GPIO0..GPIO57; the others have fewer).
const maxBCMPin = 57

// checkPin says what is wrong with a GPIO pin name, or "" if nothing is.
// The one form accepted is the one every Pi names its lines by through
// the GPIO character device, which is how board/periph finds them: GPIOn,
// BCM numbering. periph also knows bare numbers ("17") and function names
// ("PWM0"), but only through its register driver on older Pis, and a
// function name moves with the pin's mode.
func checkPin(name string) string {
	if !pinRE.MatchString(name) {
		return "not a GPIO pin name: want GPIOn with the BCM number, e.g. GPIO17"
	}
	n := 0
	for _, d := range name[len("GPIO"):] {
		n = n*10 + int(d-'0')
	}
	if n > maxBCMPin {
		return fmt.Sprintf("no such BCM pin: the Raspberry Pi SoCs have GPIO0..GPIO%d", maxBCMPin)
	}
	return ""
}

// FieldError names the configuration field that is wrong.
type FieldError struct {
	Field string
	Value any
	Why   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Field, e.Value, e.Why)
}

// Validate checks every field, returning all problems joined, each naming
// its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field string, v any, why string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Value: fmt.Sprintf("%q", fmt.Sprint(v)), Why: fmt.Sprintf(why, args...)})
	}
	if c.ApplianceID != "" && !idRE.MatchString(c.ApplianceID) {
		bad("appliance_id", c.ApplianceID, "use letters, digits, - and _ (at most 63), it becomes an MQTT topic level")
	}
	if c.Site != "" && !siteRE.MatchString(c.Site) {
		bad("site", c.Site, "use lower-case letters, digits, '.', '_' or '-' (at most 63), as policy scopes name sites")
	}
	if c.StateDir == "" {
		bad("state_dir", c.StateDir, "must be set")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("log_level", c.LogLevel, "want debug, info, warn or error")
	}
	seen := map[string]bool{}
	for i, ifc := range c.Interfaces {
		f := fmt.Sprintf("interfaces[%d]", i)
		if !ifaceRE.MatchString(ifc.Name) {
			bad(f+".name", ifc.Name, "not an interface name")
		}
		if seen[ifc.Name] {
			bad(f+".name", ifc.Name, "listed twice")
		}
		seen[ifc.Name] = true
		for j, s := range ifc.Subnets {
			p, err := netip.ParsePrefix(s)
			switch {
			case err != nil:
				bad(fmt.Sprintf("%s.subnets[%d]", f, j), s, "not a CIDR prefix like 192.0.2.0/24")
			case !p.Addr().Is4():
				bad(fmt.Sprintf("%s.subnets[%d]", f, j), s, "only IPv4 subnets can be swept")
			case p.Bits() < 16:
				bad(fmt.Sprintf("%s.subnets[%d]", f, j), s, "larger than /16: refusing to sweep more than 65,536 addresses")
			}
		}
	}
	p := c.Probing
	if p.Concurrency < 1 || p.Concurrency > 1024 {
		bad("probing.concurrency", p.Concurrency, "want 1..1024")
	}
	if p.PerHost < 1 || p.PerHost > 64 {
		bad("probing.per_host", p.PerHost, "want 1..64")
	}
	if p.RatePPS < 1 || p.RatePPS > 100000 {
		bad("probing.rate_pps", p.RatePPS, "want 1..100000 packets per second")
	}
	if p.Timeout <= 0 || p.Timeout > time.Minute {
		bad("probing.timeout", p.Timeout, "want more than 0 and at most 1m")
	}
	if p.Discovery <= 0 || p.Discovery > time.Minute {
		bad("probing.discovery", p.Discovery, "want more than 0 and at most 1m")
	}
	if p.SweepInterval < 0 || (p.SweepInterval > 0 && p.SweepInterval < 10*time.Second) {
		bad("probing.sweep_interval", p.SweepInterval, "want 0 (only at start) or at least 10s")
	}
	for i, name := range p.Disabled {
		if !slices.Contains(ProbeNames, name) {
			bad(fmt.Sprintf("probing.disabled[%d]", i), name, "unknown probe (have %s)", strings.Join(ProbeNames, ", "))
		}
	}
	for i, cr := range p.ONVIF {
		if cr.User == "" {
			bad(fmt.Sprintf("probing.onvif_credentials[%d].user", i), "", "must be set")
		}
	}
	if len(p.SNMPCommunities) > MaxSNMPCommunities {
		bad("probing.snmp_communities", len(p.SNMPCommunities), "at most %d communities (each is one more request to every device)", MaxSNMPCommunities)
	}
	seenCommunity := map[Community]bool{}
	for i, cm := range p.SNMPCommunities {
		// The value is a secret: errors show "<hidden>", never the community.
		f := fmt.Sprintf("probing.snmp_communities[%d]", i)
		switch {
		case cm == "":
			bad(f, "", "must not be empty")
		case len(cm) > maxCommunityLen:
			bad(f, cm, "longer than %d bytes", maxCommunityLen)
		case seenCommunity[cm]:
			bad(f, cm, "listed twice")
		}
		seenCommunity[cm] = true
	}
	errs = append(errs, validateCredentials("probing.credentials", p.Credentials)...)
	pol := c.Policy
	for i, m := range pol.FlaggedMakers {
		if m == "" || m != strings.ToLower(m) {
			bad(fmt.Sprintf("policy.flagged_makers[%d]", i), m, "maker ids are lower case, e.g. hikvision")
		}
	}
	for m, a := range pol.Actions {
		if a != "alert" && a != "isolate" {
			bad("policy.actions."+m, a, "want alert or isolate")
		}
	}
	if !slices.Contains([]string{"weak", "strong", "definitive"}, pol.MinIsolate) {
		bad("policy.min_isolate", pol.MinIsolate, "want weak, strong or definitive")
	}
	if pol.HoldTime < 0 {
		bad("policy.hold_time", pol.HoldTime, "must not be negative")
	}
	for i, a := range pol.Allow {
		f := fmt.Sprintf("policy.allow[%d]", i)
		if a.MAC == "" && a.Serial == "" {
			bad(f, "", "needs a mac or a serial")
		}
		if a.MAC != "" {
			if _, err := net.ParseMAC(a.MAC); err != nil {
				bad(f+".mac", a.MAC, "not a MAC address")
			}
		}
		if a.Reason == "" {
			bad(f+".reason", "", "say why the device is allowed (it is shown in reports)")
		}
	}
	b := c.Board
	switch b.Kind {
	case "periph", "console", "none":
	default:
		bad("board.kind", b.Kind, "want periph, console or none")
	}
	// Pins are checked here, not first at `run` on the Pi: a typo or a pin
	// wired to two things would otherwise pass `config check` and fail on
	// the appliance, or drive the relay from an LED's line.
	pinUser := map[string]string{}
	pin := func(field, name string) {
		if why := checkPin(name); why != "" {
			bad(field, name, "%s", why)
			return
		}
		if prev, ok := pinUser[name]; ok {
			bad(field, name, "pin already used by %s", prev)
			return
		}
		pinUser[name] = field
	}
	leds := make([]string, 0, len(b.LEDs))
	for name := range b.LEDs {
		leds = append(leds, name)
	}
	slices.Sort(leds) // the first user of a pin is the same on every run
	for _, name := range leds {
		if !slices.Contains([]string{"power", "activity", "alert", "uplink", "broker"}, name) {
			bad("board.leds."+name, name, "unknown LED (have power, activity, alert, uplink, broker)")
		}
		pin("board.leds."+name, b.LEDs[name])
	}
	if b.Relay.Pin != "" {
		pin("board.relay.pin", b.Relay.Pin)
	}
	if b.Relay.Active != "high" && b.Relay.Active != "low" {
		bad("board.relay.active", b.Relay.Active, "want high or low")
	}
	if b.Relay.Contacts != "normally_closed" && b.Relay.Contacts != "normally_open" {
		bad("board.relay.contacts", b.Relay.Contacts, "want normally_closed or normally_open")
	}
	if b.Button != "" {
		pin("board.button", b.Button)
	}
	if lr := b.LabRelay; lr != nil && (lr.Netns == "" || lr.Link == "") {
		bad("board.lab_relay", fmt.Sprintf("%+v", *lr), "needs netns and link")
	}
	inv := c.Inventory
	if inv.MaxDevices < 1 || inv.MaxDevices > 1<<20 {
		bad("inventory.max_devices", inv.MaxDevices, "want 1..1048576")
	}
	if inv.ForgetAfter < time.Minute {
		bad("inventory.forget_after", inv.ForgetAfter, "want at least 1m")
	}
	if inv.GoneAfter <= 0 || inv.GoneAfter > inv.ForgetAfter {
		bad("inventory.gone_after", inv.GoneAfter, "want more than 0 and at most forget_after")
	}
	if p.SweepInterval > 0 && inv.GoneAfter <= p.SweepInterval && !p.PassiveOnly {
		bad("inventory.gone_after", inv.GoneAfter, "must be longer than probing.sweep_interval (%s), or a quiet camera that is still there counts as gone between sweeps", p.SweepInterval)
	}
	m := c.MQTT
	if m.Broker != "" {
		if !strings.HasPrefix(m.Broker, "tcp://") && !strings.HasPrefix(m.Broker, "ssl://") &&
			!strings.HasPrefix(m.Broker, "mqtt://") && !strings.HasPrefix(m.Broker, "mqtts://") {
			bad("mqtt.broker", m.Broker, "want tcp://host:port or ssl://host:port")
		}
		if (m.CertFile == "") != (m.KeyFile == "") {
			bad("mqtt.cert_file", m.CertFile, "cert_file and key_file go together")
		}
	}
	if m.OutboxMax < 1 {
		bad("mqtt.outbox_max_events", m.OutboxMax, "must be at least 1")
	}
	if m.TeleInterval < 0 || (m.TeleInterval > 0 && m.TeleInterval < time.Second) {
		bad("mqtt.tele_interval", m.TeleInterval, "0s (off) or at least 1s")
	}
	if c.OTA.TrialTimeout < 10*time.Second || c.OTA.TrialTimeout > time.Hour {
		bad("ota.trial_timeout", c.OTA.TrialTimeout, "want 10s..1h")
	}
	return errors.Join(errs...)
}

// Active reports whether active probing may run, and if not, why.
func (c *Config) Active() (bool, string) {
	switch {
	case c.Probing.PassiveOnly:
		return false, "probing.passive_only is set"
	case len(c.Interfaces) == 0:
		return false, "no interfaces are named in the configuration (interfaces: - name: eth0); camwarden never probes a network nobody named"
	}
	return true, ""
}
