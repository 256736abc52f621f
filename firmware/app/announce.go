package app

import "github.com/camwarden/camwarden/probes"

// A camera's first frames (ARP, DHCP) often come before its web, ONVIF or
// SADP services listen, so the round OnAddress starts can race them. The
// device then says when a service is up, unasked: a WS-Discovery Hello
// carries the ONVIF address, SADP and DHIP chatter come from the vendor
// service, SSDP NOTIFY points at a description, an mDNS announcement names
// web and RTSP services, a DHCP REQUEST means the address is being
// (re)bound. Each such announcement with something new asks the probes that
// can now get an answer, at once, instead of waiting for a timed re-probe.

// announcedBy maps a passive decoder's announcement to the probers to run.
var announcedBy = map[string][]string{
	"wsd":  {"onvif", "http", "https", "nvr"},
	"sadp": {"sadp", "http", "https", "tcp", "nvr"},
	"dhip": {"dhip", "http", "rtsp", "nvr"},
	"ssdp": {"ssdp"},
	"mdns": {"http", "https", "rtsp"},
}

// announced returns the probers an observation's announcement calls for;
// nil when it announces nothing (a request, a probe's own answer, ARP).
func announced(o probes.Observation) []string {
	if !o.Passive {
		return nil // our own probes' answers: the round that asked is running
	}
	if o.Probe == "dhcp" {
		for _, f := range o.Facts {
			if f.Key == "dhcp.msg" && f.Value == "request" {
				return []string{"http", "https", "rtsp", "onvif", "sadp", "dhip", "tcp"}
			}
		}
		return nil
	}
	names, ok := announcedBy[o.Probe]
	if !ok {
		return nil
	}
	for _, f := range o.Facts {
		switch f.Key {
		case "wsd.msg":
			if f.Value != "hello" && f.Value != "probematch" {
				return nil // a Bye, or someone's Probe
			}
		case "sadp.seen", "dhip.seen":
			if f.Value != "reply" {
				return nil // an inquiry is a question
			}
		}
	}
	return names
}
