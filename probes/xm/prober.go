package xm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/camwarden/camwarden/probes"
)

// DefaultTimeout bounds one probe: connect, send, read the reply header.
const DefaultTimeout = 3 * time.Second

// Prober asks one host whether TCP 34567 speaks NetSurveillance. The zero
// value is ready to use.
type Prober struct {
	Timeout time.Duration // default DefaultTimeout
	Port    int           // default 34567
	// Dial opens the connection; default a net.Dialer. Injected by tests.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Name implements probes.Prober.
func (*Prober) Name() string { return "xm" }

// Probe implements probes.Prober. It emits xm.netsurveillance=open when the
// reply carries a valid NetSurveillance header, and returns an error (and
// emits nothing) when the port is closed, silent or speaks something else.
func (p *Prober) Probe(ctx context.Context, t probes.Target, emit probes.Sink) error {
	port := p.Port
	if port == 0 {
		port = Port
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(t.IP.String(), strconv.Itoa(port))
	conn, release, err := probes.DialBounded(ctx, p.Dial, addr)
	if err != nil {
		return fmt.Errorf("xm: probe %s: %w", addr, err)
	}
	defer release()
	if _, err := conn.Write(ProbeRequest().Marshal()); err != nil {
		return fmt.Errorf("xm: probe %s: send: %w", addr, err)
	}
	// The header alone answers the question; the body is read only to
	// check the declared length is honest, bounded by MaxBody.
	m, err := Read(conn)
	if err != nil {
		if errors.Is(err, ErrNotXM) || errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("xm: probe %s: %w", addr, err)
		}
		return fmt.Errorf("xm: probe %s: read reply: %w", addr, err)
	}
	_ = m // any well-framed answer is NetSurveillance, whatever its message id
	ip := t.IP
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		ip = ap.Addr().Unmap()
	}
	emit(probes.Observation{Time: time.Now(), MAC: t.MAC, IP: ip, Probe: "xm", Facts: []probes.Fact{probes.F("xm.netsurveillance", "open")}})
	return nil
}

// Decoder recognises NetSurveillance replies in captured TCP segments from
// port 34567 (when the capture filter passes that port).
type Decoder struct{}

// Name implements probes.Decoder.
func (Decoder) Name() string { return "xm" }

// Decode implements probes.Decoder. Only segments that start a message are
// recognised; continuation segments are not its business.
func (Decoder) Decode(f *probes.Frame, emit probes.Sink) error {
	if f.IPProto != probes.ProtoTCP || f.SrcPort != Port || len(f.Payload) < HeaderSize || f.Payload[0] != Magic {
		return nil
	}
	if _, err := ParseHeader(f.Payload); err != nil {
		return nil // a stream segment that merely starts with 0xff
	}
	emit(probes.Observation{Time: f.Time, MAC: f.Src, IP: f.SrcIP, VLAN: f.VLAN, Probe: "xm", Facts: []probes.Fact{probes.F("xm.netsurveillance", "open")}})
	return nil
}
