package snmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/camwarden/camwarden/probes"
)

// The two objects asked for (SNMPv2-MIB, RFC 3418).
const (
	OIDSysDescr    = "1.3.6.1.2.1.1.1.0"
	OIDSysObjectID = "1.3.6.1.2.1.1.2.0"
	// enterprises is the arc under which IANA assigns private enterprise numbers.
	enterprises = "1.3.6.1.4.1."
)

// Defaults and bounds.
const (
	DefaultPort    = 161
	DefaultTimeout = time.Second // per community
	// MaxReply is the largest datagram read; a reply with two short
	// values is under 300 bytes, and a longer one is cut and fails to
	// decode rather than being read whole.
	MaxReply = 4096
	// maxDatagrams bounds how many stray or forged datagrams one request
	// reads before giving up.
	maxDatagrams = 8
	maxOIDLen    = 256 // bytes of a dotted sysObjectID kept
)

// Prober reads sysDescr and sysObjectID with each configured community in
// turn until one is answered.
type Prober struct {
	Communities []string // tried in order; none: Probe does nothing
	Port        int      // DefaultPort when 0
	Timeout     time.Duration
	Log         *slog.Logger
	Now         func() time.Time
}

// Name is "snmp".
func (p *Prober) Name() string { return "snmp" }

// errNoAnswer is what an agent that drops a wrong community looks like.
var errNoAnswer = errors.New("no answer")

// Probe emits snmp.sys_descr, snmp.sys_object_id and snmp.enterprise from
// the first community the agent answers. Silence (wrong community, no
// agent) emits nothing and is no error; only ctx ending is.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	if len(p.Communities) == 0 {
		return nil
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	port := p.Port
	if port == 0 {
		port = DefaultPort
	}
	addr := netip.AddrPortFrom(t.IP, uint16(port))
	for i, community := range p.Communities {
		facts, err := p.get(ctx, addr, community)
		if err == nil {
			if len(facts) > 0 {
				now := time.Now
				if p.Now != nil {
					now = p.Now
				}
				emit(probes.Observation{Time: now(), MAC: t.MAC, IP: t.IP, Probe: "snmp", Facts: facts})
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("snmp: %s: %w", t.IP, ctx.Err())
		}
		// The community is identified by its position only: its value is a secret.
		log.Debug("snmp: community not answered", "ip", t.IP, "community_index", i, "err", err)
	}
	return nil
}

// get sends one GET with community and waits for its answer.
func (p *Prober) get(ctx context.Context, addr netip.AddrPort, community string) ([]probes.Fact, error) {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A connected socket: the kernel drops datagrams from anyone but the target.
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	_ = c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	g := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: community, MaxOids: 2}
	base := rand.Uint32() & 0x7fffffff
	g.SetRequestID(base)
	want := (base + 1) & 0x7fffffff // SnmpEncodePacket takes the next id
	req, err := g.SnmpEncodePacket(gosnmp.GetRequest, []gosnmp.SnmpPDU{
		{Name: OIDSysDescr, Type: gosnmp.Null}, {Name: OIDSysObjectID, Type: gosnmp.Null}}, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err) // gosnmp's errors name no community
	}
	if _, err := c.Write(req); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	buf := make([]byte, MaxReply)
	for range maxDatagrams {
		n, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, errNoAnswer
			}
			return nil, fmt.Errorf("read: %w", err)
		}
		r, err := ParseResponse(buf[:n])
		if err != nil || r.RequestID != want || r.Community != community {
			continue // stray, forged or garbled: keep waiting for ours
		}
		if r.Error != gosnmp.NoError {
			return nil, fmt.Errorf("agent error %v", r.Error)
		}
		return Facts(r.Variables), nil
	}
	return nil, errNoAnswer
}

// ParseResponse decodes one v2c GetResponse. Replies come from devices we
// do not trust, so a panic of gosnmp's decoder on a malformed datagram is
// turned into an error rather than taking the appliance down.
func ParseResponse(b []byte) (r *gosnmp.SnmpPacket, err error) {
	if len(b) > MaxReply {
		return nil, fmt.Errorf("reply of %d bytes", len(b))
	}
	defer func() {
		if e := recover(); e != nil {
			r, err = nil, fmt.Errorf("malformed reply (decoder panic: %v)", e)
		}
	}()
	// v3 needs security state we never set up; refuse it before decoding.
	if v, ok := version(b); !ok || v != 1 {
		return nil, errors.New("not an SNMP v2c message")
	}
	g := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	p, err := g.SnmpDecodePacket(b)
	if err != nil {
		return nil, err
	}
	if p.Version != gosnmp.Version2c || p.PDUType != gosnmp.GetResponse {
		return nil, fmt.Errorf("not a v2c response (%v %v)", p.Version, p.PDUType)
	}
	if len(p.Variables) > 16 {
		return nil, fmt.Errorf("%d variables", len(p.Variables))
	}
	return p, nil
}

// version reads the version field of a message: SEQUENCE, then INTEGER.
// 0 is v1, 1 is v2c, 3 is v3.
func version(b []byte) (int, bool) {
	if len(b) < 2 || b[0] != 0x30 {
		return 0, false
	}
	i := 2
	if b[1]&0x80 != 0 {
		i += int(b[1] & 0x7f)
	}
	if i+3 > len(b) || b[i] != 0x02 || b[i+1] != 1 {
		return 0, false
	}
	return int(b[i+2]), true
}

// Facts turns a reply's variables into snmp.* facts; values of other
// objects and "no such object" answers are ignored.
func Facts(vars []gosnmp.SnmpPDU) []probes.Fact {
	var out []probes.Fact
	for _, v := range vars {
		switch strings.TrimPrefix(v.Name, ".") {
		case OIDSysDescr:
			if b, ok := v.Value.([]byte); ok && v.Type == gosnmp.OctetString && len(b) > 0 {
				out = append(out, probes.F("snmp.sys_descr", string(b)))
			}
		case OIDSysObjectID:
			s, ok := v.Value.(string)
			if !ok || v.Type != gosnmp.ObjectIdentifier {
				continue
			}
			oid, ok := dotted(s)
			if !ok {
				continue
			}
			out = append(out, probes.F("snmp.sys_object_id", oid))
			if e, ok := Enterprise(oid); ok {
				out = append(out, probes.F("snmp.enterprise", e))
			}
		}
	}
	return out
}

// dotted checks an OID is digits and dots and drops the leading dot gosnmp adds.
func dotted(s string) (string, bool) {
	s = strings.TrimPrefix(s, ".")
	if s == "" || len(s) > maxOIDLen {
		return "", false
	}
	for _, arc := range strings.Split(s, ".") {
		if arc == "" || strings.Trim(arc, "0123456789") != "" {
			return "", false
		}
	}
	return s, true
}

// Enterprise returns the private enterprise number of an OID under
// 1.3.6.1.4.1, without leading zeros.
func Enterprise(oid string) (string, bool) {
	rest, ok := strings.CutPrefix(oid, enterprises)
	if !ok {
		return "", false
	}
	arc, _, _ := strings.Cut(rest, ".")
	n, err := strconv.ParseUint(arc, 10, 32)
	if err != nil {
		return "", false
	}
	return strconv.FormatUint(n, 10), true
}
