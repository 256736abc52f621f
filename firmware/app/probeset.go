package app

import (
	"log/slog"
	"slices"
	"time"

	"github.com/camwarden/camwarden/firmware/config"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/arp"
	"github.com/camwarden/camwarden/probes/dhcp"
	"github.com/camwarden/camwarden/probes/dhip"
	"github.com/camwarden/camwarden/probes/dvrip"
	"github.com/camwarden/camwarden/probes/ftp"
	httpprobe "github.com/camwarden/camwarden/probes/http"
	"github.com/camwarden/camwarden/probes/ipv6"
	"github.com/camwarden/camwarden/probes/lldp"
	"github.com/camwarden/camwarden/probes/mdns"
	"github.com/camwarden/camwarden/probes/onvif"
	"github.com/camwarden/camwarden/probes/rtsp"
	"github.com/camwarden/camwarden/probes/sadp"
	"github.com/camwarden/camwarden/probes/snmp"
	"github.com/camwarden/camwarden/probes/ssdp"
	"github.com/camwarden/camwarden/probes/tcpbanner"
	"github.com/camwarden/camwarden/probes/telnet"
	"github.com/camwarden/camwarden/probes/wsd"
	"github.com/camwarden/camwarden/probes/xm"
)

// unicastWait bounds a unicast discovery probe of one host; the scheduler
// waits less for a host whose round trip it measured (ReplyWait).
// unicastInterval spaces its two asks.
const (
	unicastWait     = 1200 * time.Millisecond
	unicastInterval = 100 * time.Millisecond
	// multicastInterval spaces the two rounds of a multicast search.
	multicastInterval = 250 * time.Millisecond
)

// unicastAsk marks a unicast discovery prober for the scheduler (see
// replyWaiter): it only waits for a datagram. covered: a host that answered
// the sweep's round of the same protocol is not asked again (see coverage).
type unicastAsk struct {
	probes.Prober
	covered bool
}

func (unicastAsk) ReplyWaitCeiling() time.Duration { return unicastWait }
func (u unicastAsk) CoveredBySweep() bool          { return u.covered }

// Registry builds the probes the appliance runs from the probing settings:
// every passive decoder, and the active discoverers and probers that are
// not disabled. The ARP sweep runs first in a sweep (see Scheduler.Sweep).
func Registry(p config.Probing, log *slog.Logger) *probes.Registry {
	on := func(name string) bool { return !slices.Contains(p.Disabled, name) }
	r := &probes.Registry{}
	for _, d := range []probes.Decoder{arp.Decoder{}, dhcp.Decoder{}, ipv6.Decoder{}, lldp.Decoder{}, mdns.Decoder{},
		ssdp.Decoder{}, wsd.Decoder{}, sadp.Decoder{}, dhip.Decoder{}, dvrip.Decoder{}, xm.Decoder{}} {
		if on(d.Name()) {
			r.Decoders = append(r.Decoders, d)
		}
	}
	if p.PassiveOnly {
		return r
	}
	sweep := arp.NewSweeper(p.RatePPS)
	sweep.Log = log
	for _, d := range []probes.Discoverer{
		sweep,
		// The second round of each vendor search follows the first by a
		// quarter second: enough for a device that lost the first (or
		// answers only a repeat) to hear it; the round then waits its
		// floor after it (udpdisc.DefaultFloor).
		&sadp.Discoverer{Log: log, Timeout: p.Discovery, Interval: multicastInterval},
		&dhip.Discoverer{Log: log, Timeout: p.Discovery, Interval: multicastInterval},
		&dvrip.Discoverer{Log: log, Timeout: p.Discovery, Interval: multicastInterval},
		&wsd.Discoverer{Log: log},
		// Its second M-SEARCH round follows the first closely: devices
		// hold their answers back up to MX (1 s) after the last round
		// anyway, so a long gap only makes the round longer.
		&ssdp.Discoverer{Options: ssdp.Options{Timeout: p.Discovery, Interval: multicastInterval, Log: log}},
		&mdns.Discoverer{Log: log},
	} {
		if on(d.Name()) {
			r.Discoverers = append(r.Discoverers, d)
		}
	}
	creds := make([]onvif.Credential, len(p.ONVIF))
	for i, c := range p.ONVIF {
		creds[i] = onvif.Credential{User: c.User, Password: c.Password}
	}
	probers := []probes.Prober{
		httpprobe.NewHTTP(), httpprobe.NewHTTPS(), rtsp.New(), tcpbanner.New(), telnet.New(), ftp.New(),
		&onvif.Prober{Creds: creds, Log: log},
		// A device that appears after a sweep is still asked in its own
		// maker's discovery protocols (unicast where the device listens for
		// it), so a later Hikvision reaches the definitive SADP verdict
		// without waiting for the next sweep.
		// A device on the same link answers its own discovery protocol
		// within milliseconds; a host that does not speak it never will, and
		// the multicast discovery round and passive capture still hear slow
		// ones. So the unicast asks wait briefly, not a discovery window.
		unicastAsk{&sadp.Prober{Log: log, Timeout: unicastWait, Interval: unicastInterval}, true},
		unicastAsk{&dhip.Prober{Timeout: unicastWait, Interval: unicastInterval}, true},
		unicastAsk{&dvrip.Prober{Timeout: unicastWait, Interval: unicastInterval}, true},
		unicastAsk{&ssdp.Prober{Options: ssdp.Options{Log: log, Timeout: unicastWait, Interval: unicastInterval}}, false},
		&xm.Prober{}, newRecorderProber(p, log),
	}
	// SNMP only with a community the installer gave: one is never guessed.
	if len(p.SNMPCommunities) > 0 {
		communities := make([]string, len(p.SNMPCommunities))
		for i, c := range p.SNMPCommunities {
			communities[i] = string(c)
		}
		probers = append(probers, &snmp.Prober{Communities: communities, Log: log})
	}
	for _, pr := range probers {
		if on(pr.Name()) {
			r.Probers = append(r.Probers, pr)
		}
	}
	return r
}
