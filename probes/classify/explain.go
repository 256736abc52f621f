package classify

import (
	"fmt"
	"strings"
)

// probeWords names each probe the way an installer would understand it.
var probeWords = map[string]string{
	"oui":    "MAC address registry",
	"sadp":   "Hikvision SADP discovery",
	"dhip":   "Dahua DHIP discovery",
	"dvrip":  "Dahua DVRIP discovery",
	"onvif":  "ONVIF device information",
	"wsd":    "ONVIF WS-Discovery",
	"http":   "web interface",
	"https":  "secure web interface",
	"tls":    "TLS certificate",
	"rtsp":   "video streaming (RTSP) server",
	"dhcp":   "DHCP request",
	"mdns":   "mDNS/Bonjour announcement",
	"ssdp":   "UPnP/SSDP announcement",
	"upnp":   "UPnP device description",
	"xm":     "Xiongmai NetSurveillance service",
	"tcp":    "vendor SDK port",
	"lldp":   "LLDP announcement",
	"telnet": "telnet login greeting",
	"ftp":    "FTP server greeting",
	"snmp":   "SNMP system information",
}

// Explain renders a verdict and its evidence chain in plain words, one
// statement per line, for an installer reading a terminal or a report.
func Explain(v Verdict) string {
	var b strings.Builder
	switch {
	case v.Undetermined():
		fmt.Fprintf(&b, "Maker: undetermined (review). The evidence points at %s; no action is taken until a person settles it.\n",
			orList(v.Candidates))
		for _, r := range v.Review {
			fmt.Fprintf(&b, "  ? %s\n", r)
		}
		b.WriteString("To settle it: check the device's label and web interface; then allow-list it by MAC or serial if it is harmless, or push a signed policy signature naming its maker.\n")
	case v.Maker == "":
		b.WriteString("Maker: unknown. No signature names who made this device.\n")
	case v.Brand != "":
		fmt.Fprintf(&b, "Maker: %s, sold as %s. Confidence: %s (%s).\n", v.Maker, v.Brand, v.Confidence, confidenceWords(v.Confidence))
	default:
		fmt.Fprintf(&b, "Maker: %s. Confidence: %s (%s).\n", v.Maker, v.Confidence, confidenceWords(v.Confidence))
	}
	var id []string
	for _, f := range []struct{ k, v string }{{"model", v.Model}, {"serial", v.Serial}, {"firmware", v.Firmware}} {
		if f.v != "" {
			id = append(id, fmt.Sprintf("%s %s", f.k, f.v))
		}
	}
	if len(id) > 0 {
		fmt.Fprintf(&b, "Reported %s.\n", strings.Join(id, ", "))
	}
	if len(v.Components) > 0 {
		fmt.Fprintf(&b, "Restricted components inside: %s.\n", strings.Join(v.Components, ", "))
	}
	if len(v.Evidence) > 0 {
		b.WriteString("Evidence, strongest first:\n")
		for _, e := range v.Evidence {
			who := e.Maker
			if who == "" {
				who = "no maker"
			} else if v.Undetermined() {
				who = "for: " + e.Maker
			} else if v.Maker != "" && e.Maker != v.Maker {
				who = "against: " + e.Maker
			}
			if e.Brand != "" {
				who += " / " + e.Brand
			}
			src := probeWords[e.Probe]
			if src == "" {
				src = e.Probe
			}
			fmt.Fprintf(&b, "  - %s, %s (%s): %s\n", src, e.Strength, who, e.Detail)
		}
	}
	if len(v.Conflicts) > 0 {
		b.WriteString("Conflicting evidence:\n")
		for _, c := range v.Conflicts {
			fmt.Fprintf(&b, "  ! %s\n", c)
		}
	}
	for _, n := range v.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	return b.String()
}

func confidenceWords(c Confidence) string {
	switch c {
	case Definitive:
		return "the device answered a protocol only this maker's firmware speaks"
	case Strong:
		return "vendor-specific banners, certificates or device information"
	case Weak:
		return "hints only, such as the MAC prefix or a host name; not enough to isolate"
	}
	return "no evidence"
}

// orList joins names as "a", "a or b", "a, b or c"; "nothing named" when empty.
func orList(names []string) string {
	switch len(names) {
	case 0:
		return "no maker by name"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
