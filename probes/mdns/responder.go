package mdns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/camwarden/camwarden/probes"
	"github.com/miekg/dns"
)

// Responder is an emulated device's Bonjour presence: it answers PTR, SRV,
// TXT and A questions about its instance and announces itself at start.
type Responder struct {
	Instance string   // "AXIS P3245-LVE - ACCC8E123456"
	Hostname string   // without .local
	Services []string // "_http._tcp", ...
	TXT      []string
	IP       netip.Addr // the A record
	// Announce is where multicast answers and the start-up announcement go
	// (Group in the lab); when invalid, only unicast answers are sent, which
	// keeps loopback tests off real interfaces.
	Announce netip.AddrPort
	Log      *slog.Logger
}

// servicePort is the SRV port advertised for a service type.
func servicePort(svc string) uint16 {
	switch strings.ToLower(svc) {
	case "_rtsp._tcp":
		return 554
	case "_ipp._tcp":
		return 631
	case "_workstation._tcp":
		return 9
	}
	return 80
}

func (r *Responder) instanceName(svc string) string {
	// Escape what would otherwise split labels.
	inst := strings.NewReplacer(`\`, `\\`, ".", `\.`).Replace(r.Instance)
	return inst + "." + svc + ".local."
}

func (r *Responder) hostFQDN() string { return dns.Fqdn(r.Hostname + ".local") }

// records returns the answers for one question and the additional records
// that go with them.
func (r *Responder) records(q dns.Question) (ans, extra []dns.RR) {
	name := strings.ToLower(q.Name)
	hdr := func(n string, t uint16, ttl uint32) dns.RR_Header {
		return dns.RR_Header{Name: n, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	srvTxt := func(svc string) []dns.RR {
		in := r.instanceName(svc)
		txt := r.TXT
		if len(txt) == 0 {
			txt = []string{""}
		}
		return []dns.RR{
			&dns.SRV{Hdr: hdr(in, dns.TypeSRV, 120), Port: servicePort(svc), Target: r.hostFQDN()},
			&dns.TXT{Hdr: hdr(in, dns.TypeTXT, 4500), Txt: txt},
		}
	}
	a := func() []dns.RR {
		if !r.IP.Is4() {
			return nil
		}
		return []dns.RR{&dns.A{Hdr: hdr(r.hostFQDN(), dns.TypeA, 120), A: net.IP(r.IP.AsSlice())}}
	}
	if name == enumeration && (q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY) {
		for _, svc := range r.Services {
			ans = append(ans, &dns.PTR{Hdr: hdr(enumeration, dns.TypePTR, 4500), Ptr: svc + ".local."})
		}
		return ans, nil
	}
	for _, svc := range r.Services {
		switch name {
		case strings.ToLower(svc + ".local."):
			if q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY {
				ans = append(ans, &dns.PTR{Hdr: hdr(svc+".local.", dns.TypePTR, 4500), Ptr: r.instanceName(svc)})
				extra = append(extra, srvTxt(svc)...)
				extra = append(extra, a()...)
			}
		case strings.ToLower(r.instanceName(svc)):
			for _, rr := range srvTxt(svc) {
				if q.Qtype == dns.TypeANY || rr.Header().Rrtype == q.Qtype {
					ans = append(ans, rr)
				}
			}
			extra = append(extra, a()...)
		}
	}
	if name == strings.ToLower(r.hostFQDN()) && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY) {
		ans = append(ans, a()...)
	}
	return ans, extra
}

// announcement is the unsolicited response a device sends at start.
func (r *Responder) announcement() *dns.Msg {
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	for _, svc := range r.Services {
		ans, extra := r.records(dns.Question{Name: svc + ".local.", Qtype: dns.TypePTR})
		m.Answer = append(m.Answer, ans...)
		m.Extra = append(m.Extra, extra...)
	}
	return m
}

// Answer returns the response to query q from src, and where to send it:
// unicast to src for legacy queries (source port not 5353, RFC 6762 §6.7)
// and QU questions, otherwise the Announce address. nil when nothing matched.
func (r *Responder) Answer(q *dns.Msg, src netip.AddrPort) (*dns.Msg, netip.AddrPort) {
	if q.Response || q.Opcode != dns.OpcodeQuery || len(q.Question) > 64 {
		return nil, netip.AddrPort{}
	}
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	legacy := src.Port() != Port
	unicast := legacy
	for _, qq := range q.Question {
		ans, extra := r.records(qq)
		if len(ans) == 0 {
			continue
		}
		if qq.Qclass&(1<<15) != 0 {
			unicast = true
		}
		m.Answer = append(m.Answer, ans...)
		m.Extra = append(m.Extra, extra...)
	}
	if len(m.Answer) == 0 {
		return nil, netip.AddrPort{}
	}
	if legacy {
		// Legacy unicast replies echo the ID and the questions.
		m.Id = q.Id
		m.Question = q.Question
	}
	if unicast {
		return m, src
	}
	return m, r.Announce
}

// Serve answers queries arriving on pc until ctx ends; it sends the
// announcement first when Announce is set.
func (r *Responder) Serve(ctx context.Context, pc net.PacketConn) error {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	send := func(m *dns.Msg, to netip.AddrPort) {
		if !to.IsValid() {
			return
		}
		b, err := m.Pack()
		if err != nil {
			log.Debug("mdns responder: pack", "err", err)
			return
		}
		if _, err := pc.WriteTo(b, net.UDPAddrFromAddrPort(to)); err != nil && ctx.Err() == nil {
			log.Debug("mdns responder: send", "to", to, "err", err)
		}
	}
	send(r.announcement(), r.Announce)
	buf := make([]byte, probes.MaxPayload+1)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("mdns responder: read: %w", err)
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		q, err := Parse(buf[:n])
		if err != nil {
			continue
		}
		if m, to := r.Answer(q, ua.AddrPort()); m != nil {
			send(m, to)
		}
	}
}
