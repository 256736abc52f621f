package app

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/camwarden/camwarden/firmware/inventory"
	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/classify"
)

// A discovery reply is unauthenticated: the host that sent it is the only
// device it can speak for. The probes attribute a reply to its sender (the
// frame's source, or the datagram's source address) and pass the MAC and IP
// the payload claims as facts. Here those claims are compared with the
// sender and with the rest of the inventory: a claim that names another
// device on the network is a spoofing tell and puts the sender under review
// (classify.FactClaimsOther); it never gives the named device a verdict.

// claimMACKeys and claimIPKeys are the payload identity fields of the
// discovery protocols (probes/FACTS.md).
var (
	claimMACKeys = []string{"sadp.mac", "dhip.mac", "dvrip.mac", "wsd.mac"}
	claimIPKeys  = []string{"sadp.ipv4", "dhip.ipv4"}
)

// maxClaims bounds the remembered claims that name an address nobody holds
// yet; the oldest goes first. Senders are devices, so an honest network has
// a handful (multi-homed cameras, stale firmware fields).
const maxClaims = 256

// claim is one sender saying it is (or speaks for) another address.
type claim struct {
	from  string // sender MAC
	probe string
	mac   string     // claimed MAC, "" if none
	ip    netip.Addr // claimed IPv4, invalid if none
}

func (c claim) String() string {
	var what []string
	if c.mac != "" {
		what = append(what, "MAC "+c.mac)
	}
	if c.ip.IsValid() {
		what = append(what, "IP "+c.ip.String())
	}
	return c.probe + " reply names " + strings.Join(what, " and ")
}

// withoutIdentity returns o without identity.* facts: only the pipeline may
// state them, never a probe (nor a device talking through one).
func withoutIdentity(o probes.Observation) probes.Observation {
	for i, f := range o.Facts {
		if strings.HasPrefix(f.Key, "identity.") {
			kept := append([]probes.Fact(nil), o.Facts[:i]...)
			for _, g := range o.Facts[i+1:] {
				if !strings.HasPrefix(g.Key, "identity.") {
					kept = append(kept, g)
				}
			}
			o.Facts = kept
			return o
		}
	}
	return o
}

// claimsOf reads the identity a sender's observation claims, when it differs
// from the sender's own.
func claimsOf(o probes.Observation, sender inventory.Device) []claim {
	var out []claim
	for _, f := range o.Facts {
		probe, _, _ := strings.Cut(f.Key, ".")
		for _, k := range claimMACKeys {
			if f.Key != k {
				continue
			}
			hw, err := net.ParseMAC(f.Value)
			if err != nil || len(hw) != 6 || hw.String() == sender.MAC {
				continue
			}
			out = append(out, claim{from: sender.MAC, probe: probe, mac: hw.String()})
		}
		for _, k := range claimIPKeys {
			if f.Key != k {
				continue
			}
			ip, err := netip.ParseAddr(f.Value)
			if err != nil || !ip.Is4() || ip.IsUnspecified() || ip == sender.IP {
				continue
			}
			out = append(out, claim{from: sender.MAC, probe: probe, ip: ip})
		}
	}
	return out
}

// owner returns the device other than c's sender that holds the address c
// names, if the inventory knows one.
func (p *Pipeline) owner(c claim) (string, bool) {
	if c.mac != "" && c.mac != c.from {
		if _, ok := p.Inv.Get(c.mac); ok {
			return c.mac, true
		}
	}
	if c.ip.IsValid() {
		if m, ok := p.Inv.ResolveIP(c.ip); ok && m != c.from {
			return m, true
		}
	}
	return "", false
}

// checkClaims is called after o from sender was merged: a claim naming a
// known other device marks the sender at once; one naming an address nobody
// holds is remembered so the device that later shows up with it still
// exposes the sender (recheck).
func (p *Pipeline) checkClaims(ctx context.Context, o probes.Observation, sender inventory.Device) {
	for _, c := range claimsOf(o, sender) {
		if other, ok := p.owner(c); ok {
			p.markClaimer(ctx, c, other)
			continue
		}
		if len(p.claims) >= maxClaims {
			p.claims = p.claims[1:]
		}
		p.claims = append(p.claims, c)
	}
}

// recheck runs when d is new or changed address: any remembered claim of its
// MAC or IP by another host marks that host.
func (p *Pipeline) recheck(ctx context.Context, d inventory.Device) {
	if len(p.claims) == 0 {
		return
	}
	var hit []claim
	kept := p.claims[:0]
	for _, c := range p.claims {
		if c.from != d.MAC && (c.mac == d.MAC || c.ip.IsValid() && c.ip == d.IP) {
			hit = append(hit, c)
			continue
		}
		if _, alive := p.Inv.Get(c.from); alive {
			kept = append(kept, c)
		}
	}
	p.claims = kept
	for _, c := range hit {
		p.markClaimer(ctx, c, d.MAC)
	}
}

func (p *Pipeline) markClaimer(ctx context.Context, c claim, other string) {
	hw, err := net.ParseMAC(c.from)
	if err != nil {
		return
	}
	p.Log.Warn("discovery reply claims another device's identity", "sender", c.from, "names", other, "probe", c.probe)
	p.apply(ctx, probes.Observation{Time: p.Now(), MAC: hw, Probe: "identity", Facts: []probes.Fact{
		probes.F(classify.FactClaimsOther, fmt.Sprintf("%s, which belongs to %s", c, other)),
	}})
}
