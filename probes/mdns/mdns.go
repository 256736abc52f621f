package mdns

import (
	"errors"
	"fmt"
	"strings"

	"github.com/camwarden/camwarden/probes"
	"github.com/miekg/dns"
)

// Port and group of multicast DNS (RFC 6762).
const Port = 5353

// Services are the service types the Discoverer asks for: web and stream
// servers, Hikvision's _CGI._tcp, ONVIF, Axis, and printers as a negative
// case.
var Services = []string{"_http._tcp", "_rtsp._tcp", "_CGI._tcp", "_onvif._tcp", "_axis-video._tcp", "_ipp._tcp"}

// ErrNotResponse is returned by Facts for a message that is a query.
var ErrNotResponse = errors.New("mdns: not a response")

const enumeration = "_services._dns-sd._udp.local."

// Parse unpacks one mDNS message of at most probes.MaxPayload bytes.
func Parse(b []byte) (*dns.Msg, error) {
	if len(b) > probes.MaxPayload {
		return nil, fmt.Errorf("mdns: message of %d bytes over %d", len(b), probes.MaxPayload)
	}
	var m dns.Msg
	if err := m.Unpack(b); err != nil {
		return nil, fmt.Errorf("mdns: unpack: %w", err)
	}
	return &m, nil
}

// Facts returns the mdns.* facts of a response: instance and service from
// PTR/SRV/TXT owner names, hostname from SRV targets and A/AAAA owners, one
// mdns.txt fact per TXT string. Duplicates are dropped; at most MaxFacts.
func Facts(m *dns.Msg) ([]probes.Fact, error) {
	if !m.Response {
		return nil, ErrNotResponse
	}
	var facts []probes.Fact
	seen := map[probes.Fact]bool{}
	add := func(k, v string) {
		f := probes.F(k, v)
		if f.Value == "" || seen[f] || len(facts) >= probes.MaxFacts {
			return
		}
		seen[f] = true
		facts = append(facts, f)
	}
	instance := func(name string) {
		inst, svc, ok := splitInstance(name)
		if ok {
			add("mdns.instance", inst)
			add("mdns.service", svc)
		}
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Extra} {
		for _, rr := range sec {
			switch r := rr.(type) {
			case *dns.PTR:
				if strings.EqualFold(r.Hdr.Name, enumeration) {
					if svc, ok := serviceType(r.Ptr); ok {
						add("mdns.service", svc)
					}
					continue
				}
				instance(r.Ptr)
			case *dns.SRV:
				instance(r.Hdr.Name)
				add("mdns.hostname", hostname(r.Target))
			case *dns.TXT:
				instance(r.Hdr.Name)
				for _, s := range r.Txt {
					add("mdns.txt", s)
				}
			case *dns.A:
				add("mdns.hostname", hostname(r.Hdr.Name))
			case *dns.AAAA:
				add("mdns.hostname", hostname(r.Hdr.Name))
			}
		}
	}
	return facts, nil
}

// splitInstance splits "<instance>.<_svc>.<_tcp|_udp>.local." into the
// instance (unescaped) and "_svc._tcp".
func splitInstance(name string) (inst, svc string, ok bool) {
	labels := dns.SplitDomainName(name)
	n := len(labels)
	if n < 4 || !strings.EqualFold(labels[n-1], "local") {
		return "", "", false
	}
	proto := strings.ToLower(labels[n-2])
	if proto != "_tcp" && proto != "_udp" || !strings.HasPrefix(labels[n-3], "_") {
		return "", "", false
	}
	// Sub-types ("x._sub._http._tcp") are not instances.
	if strings.EqualFold(labels[n-4], "_sub") {
		return "", "", false
	}
	return unescape(strings.Join(labels[:n-3], ".")), labels[n-3] + "." + labels[n-2], true
}

func serviceType(name string) (string, bool) {
	labels := dns.SplitDomainName(name)
	n := len(labels)
	if n != 3 || !strings.EqualFold(labels[2], "local") || !strings.HasPrefix(labels[0], "_") {
		return "", false
	}
	return labels[0] + "." + labels[1], true
}

func hostname(name string) string {
	name = strings.TrimSuffix(name, ".")
	if len(name) > 6 && strings.EqualFold(name[len(name)-6:], ".local") {
		name = name[:len(name)-6]
	}
	return unescape(name)
}

// unescape undoes miekg/dns presentation escapes (\032, \.) so instance
// names read as the device wrote them.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if v < 256 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Decoder is the passive mDNS decoder: responses seen on UDP 5353.
type Decoder struct{}

// Name is "mdns".
func (Decoder) Name() string { return "mdns" }

// Decode emits the facts of an mDNS response; queries and other traffic
// are not its business.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if f.IPProto != probes.ProtoUDP || f.SrcPort != Port {
		return nil
	}
	m, err := Parse(f.Payload)
	if err != nil {
		return fmt.Errorf("from %s: %w", f.SrcIP, err)
	}
	if !m.Response {
		return nil
	}
	facts, _ := Facts(m)
	if len(facts) > 0 {
		emit(probes.Observation{Time: f.Time, MAC: append([]byte(nil), f.Src...), IP: f.SrcIP, VLAN: f.VLAN, Probe: "mdns", Facts: facts})
	}
	return nil
}
