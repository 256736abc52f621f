package wsd

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/camwarden/camwarden/probes/internal/xmltree"
)

// Namespaces and addresses of WS-Discovery 2005/04 over SOAP 1.2, the
// version ONVIF profiles use.
const (
	NSSOAP12    = "http://www.w3.org/2003/05/soap-envelope"
	NSAddr      = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	NSDiscovery = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	// NSNetwork is ONVIF's "dn" namespace of NetworkVideoTransmitter.
	NSNetwork = "http://www.onvif.org/ver10/network/wsdl"
	// NSDevice is ONVIF's "tds" device service namespace.
	NSDevice = "http://www.onvif.org/ver10/device/wsdl"
	// NSDevProf is DPWS (Windows, wsdd): wsdp:Device.
	NSDevProf = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
	// NSPub is Windows' pub:Computer.
	NSPub = "http://schemas.microsoft.com/windows/pub/2005/07"

	// DiscoveryURN is the To of multicast messages.
	DiscoveryURN = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
	// Anonymous is the reply-to address meaning "answer the sender".
	Anonymous = NSAddr + "/role/anonymous"

	ActionProbe        = NSDiscovery + "/Probe"
	ActionProbeMatches = NSDiscovery + "/ProbeMatches"
	ActionHello        = NSDiscovery + "/Hello"
	ActionBye          = NSDiscovery + "/Bye"

	// Port and Group are where WS-Discovery listens.
	Port  = 3702
	Group = "239.255.255.250"
)

// Well-known device types a Probe may ask for.
var (
	TypeNVT       = xml.Name{Space: NSNetwork, Local: "NetworkVideoTransmitter"}
	TypeONVIFDev  = xml.Name{Space: NSDevice, Local: "Device"}
	TypeDPWSDev   = xml.Name{Space: NSDevProf, Local: "Device"}
	TypeComputer  = xml.Name{Space: NSPub, Local: "Computer"}
	knownPrefixes = map[string]string{
		"dn":   NSNetwork,
		"tds":  NSDevice,
		"wsdp": NSDevProf,
		"pub":  NSPub,
	}
)

// Limits on what one message may carry into facts.
const (
	maxEndpoints = 64
	maxScopes    = 64
	maxXAddrs    = 16
	maxTypes     = 16
)

// Kind is the message type, taken from the first element of the Body.
type Kind int

// Message kinds.
const (
	KindUnknown Kind = iota
	KindProbe
	KindProbeMatches
	KindHello
	KindBye
)

func (k Kind) String() string {
	switch k {
	case KindProbe:
		return "probe"
	case KindProbeMatches:
		return "probematch"
	case KindHello:
		return "hello"
	case KindBye:
		return "bye"
	}
	return "unknown"
}

// Endpoint is one target as a ProbeMatch, Hello or Bye describes it.
type Endpoint struct {
	Address string   // EndpointReference/Address, usually urn:uuid:...
	Types   []string // QNames as sent, e.g. "dn:NetworkVideoTransmitter"
	// TypeNames are Types resolved against the namespaces declared in the
	// message; an undeclared prefix leaves Space empty.
	TypeNames       []xml.Name
	Scopes          []string
	XAddrs          []string
	MetadataVersion string
}

// Message is a parsed WS-Discovery message.
type Message struct {
	Kind      Kind
	Action    string
	MessageID string
	RelatesTo string
	To        string
	// ProbeTypes and ProbeScopes are what a Probe asks for.
	ProbeTypes  []xml.Name
	ProbeScopes []string
	// Endpoints holds each ProbeMatch, or the single Hello/Bye target.
	Endpoints []Endpoint
}

// Parse reads one WS-Discovery message. It accepts any SOAP envelope
// version and matches elements by local name.
func Parse(b []byte) (*Message, error) {
	root, err := parseTree(b)
	if err != nil {
		return nil, err
	}
	if root.Name().Local != "Envelope" {
		return nil, fmt.Errorf("%w: root element %q", ErrNotSOAP, root.Name().Local)
	}
	body := root.Child("Body")
	if body == nil {
		return nil, fmt.Errorf("%w: no Body", ErrNotSOAP)
	}
	h := root.Child("Header")
	m := &Message{
		Action:    h.Child("Action").Text(),
		MessageID: h.Child("MessageID").Text(),
		RelatesTo: h.Child("RelatesTo").Text(),
		To:        h.Child("To").Text(),
	}
	var first *xmltree.Node
	if kids := body.Kids(); len(kids) > 0 {
		first = kids[0]
	}
	switch {
	case first == nil:
	case first.Name().Local == "Probe":
		m.Kind = KindProbe
		tn := first.Child("Types")
		for _, q := range fieldsN(tn.Text(), maxTypes) {
			m.ProbeTypes = append(m.ProbeTypes, tn.QName(q))
		}
		m.ProbeScopes = fieldsN(first.Child("Scopes").Text(), maxScopes)
	case first.Name().Local == "ProbeMatches":
		m.Kind = KindProbeMatches
		for _, pm := range first.Children("ProbeMatch") {
			if len(m.Endpoints) == maxEndpoints {
				break
			}
			m.Endpoints = append(m.Endpoints, endpointOf(pm))
		}
	case first.Name().Local == "Hello":
		m.Kind = KindHello
		m.Endpoints = []Endpoint{endpointOf(first)}
	case first.Name().Local == "Bye":
		m.Kind = KindBye
		m.Endpoints = []Endpoint{endpointOf(first)}
	}
	return m, nil
}

func endpointOf(n *xmltree.Node) Endpoint {
	tn := n.Child("Types")
	e := Endpoint{
		Address:         n.Path("EndpointReference", "Address").Text(),
		Types:           fieldsN(tn.Text(), maxTypes),
		Scopes:          fieldsN(n.Child("Scopes").Text(), maxScopes),
		XAddrs:          fieldsN(n.Child("XAddrs").Text(), maxXAddrs),
		MetadataVersion: n.Child("MetadataVersion").Text(),
	}
	for _, q := range e.Types {
		e.TypeNames = append(e.TypeNames, tn.QName(q))
	}
	return e
}

// fieldsN splits a white-space separated list, keeping at most max items.
func fieldsN(s string, max int) []string {
	f := strings.Fields(s)
	if len(f) > max {
		f = f[:max]
	}
	return f
}

// NewMessageID returns a fresh urn:uuid MessageID (random, version 4).
func NewMessageID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// esc escapes text for an XML element or attribute.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// envelope writes the SOAP 1.2 envelope around header fields and body.
// extraNS declares prefixes used inside QName text (Types). The prefixes
// (soap, wsa, wsd) and the attribute-free <wsa:Action> are what Windows
// sends; naive string-matching responders (wsdd2, some camera firmwares)
// only recognise that exact form.
func envelope(action, msgID, relatesTo, to string, extraNS map[string]string, appSeq string, body string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	b.WriteString(`<soap:Envelope xmlns:soap="` + NSSOAP12 + `" xmlns:wsa="` + NSAddr + `" xmlns:wsd="` + NSDiscovery + `"`)
	for _, p := range sortedKeys(extraNS) {
		b.WriteString(` xmlns:` + p + `="` + esc(extraNS[p]) + `"`)
	}
	b.WriteString(`><soap:Header>`)
	b.WriteString(`<wsa:To>` + esc(to) + `</wsa:To>`)
	b.WriteString(`<wsa:Action>` + esc(action) + `</wsa:Action>`)
	b.WriteString(`<wsa:MessageID>` + esc(msgID) + `</wsa:MessageID>`)
	if relatesTo != "" {
		b.WriteString(`<wsa:RelatesTo>` + esc(relatesTo) + `</wsa:RelatesTo>`)
	}
	if action == ActionProbe {
		b.WriteString(`<wsa:ReplyTo><wsa:Address>` + Anonymous + `</wsa:Address></wsa:ReplyTo>`)
	}
	b.WriteString(appSeq)
	b.WriteString(`</soap:Header><soap:Body>`)
	b.WriteString(body)
	b.WriteString(`</soap:Body></soap:Envelope>`)
	return []byte(b.String())
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for p := range m {
		k = append(k, p)
	}
	// tiny maps: insertion sort keeps output stable without importing slices
	for i := 1; i < len(k); i++ {
		for j := i; j > 0 && k[j] < k[j-1]; j-- {
			k[j], k[j-1] = k[j-1], k[j]
		}
	}
	return k
}

// qnames writes types as prefixed QNames, declaring prefixes in ns. Known
// namespaces get their customary prefix (wsdd compares "wsdp:Device" as
// text, so the prefix matters in practice).
func qnames(types []xml.Name, ns map[string]string) string {
	var parts []string
	for i, t := range types {
		if t.Space == "" {
			parts = append(parts, t.Local)
			continue
		}
		prefix := ""
		for p, s := range knownPrefixes {
			if s == t.Space {
				prefix = p
			}
		}
		if prefix == "" {
			prefix = fmt.Sprintf("t%d", i)
		}
		ns[prefix] = t.Space
		parts = append(parts, prefix+":"+t.Local)
	}
	return strings.Join(parts, " ")
}

// BuildProbe builds a multicast Probe for the given types (none: an untyped
// Probe, which asks every target to answer).
func BuildProbe(msgID string, types ...xml.Name) []byte {
	ns := map[string]string{}
	body := `<wsd:Probe/>`
	if len(types) > 0 {
		body = `<wsd:Probe><wsd:Types>` + esc(qnames(types, ns)) + `</wsd:Types></wsd:Probe>`
	}
	return envelope(ActionProbe, msgID, "", DiscoveryURN, ns, "", body)
}

// Target is what a responder announces about itself.
type Target struct {
	Address string
	// Types are QNames with prefixes dn, tds, wsdp or pub (declared
	// automatically), e.g. "dn:NetworkVideoTransmitter tds:Device".
	Types           string
	Scopes          []string
	XAddrs          []string
	MetadataVersion int
}

func (t Target) body(withTypes bool) string {
	var b strings.Builder
	b.WriteString(`<wsa:EndpointReference><wsa:Address>` + esc(t.Address) + `</wsa:Address></wsa:EndpointReference>`)
	if withTypes && t.Types != "" {
		b.WriteString(`<wsd:Types>` + esc(t.Types) + `</wsd:Types>`)
	}
	if withTypes && len(t.Scopes) > 0 {
		b.WriteString(`<wsd:Scopes>` + esc(strings.Join(t.Scopes, " ")) + `</wsd:Scopes>`)
	}
	if withTypes && len(t.XAddrs) > 0 {
		b.WriteString(`<wsd:XAddrs>` + esc(strings.Join(t.XAddrs, " ")) + `</wsd:XAddrs>`)
	}
	b.WriteString(fmt.Sprintf(`<wsd:MetadataVersion>%d</wsd:MetadataVersion>`, t.MetadataVersion))
	return b.String()
}

func appSequence(instance uint32, n uint64) string {
	return fmt.Sprintf(`<wsd:AppSequence InstanceId="%d" MessageNumber="%d"/>`, instance, n)
}

// Sequence numbers a responder's announcements (AppSequence).
type Sequence struct {
	InstanceID uint32
	Number     uint64
}

func (s *Sequence) next() string {
	if s == nil {
		return ""
	}
	s.Number++
	return appSequence(s.InstanceID, s.Number)
}

// BuildProbeMatches answers the Probe with MessageID relatesTo.
func BuildProbeMatches(msgID, relatesTo string, seq *Sequence, t Target) []byte {
	return envelope(ActionProbeMatches, msgID, relatesTo, Anonymous, knownPrefixes, seq.next(),
		`<wsd:ProbeMatches><wsd:ProbeMatch>`+t.body(true)+`</wsd:ProbeMatch></wsd:ProbeMatches>`)
}

// BuildHello announces t on the multicast group.
func BuildHello(msgID string, seq *Sequence, t Target) []byte {
	return envelope(ActionHello, msgID, "", DiscoveryURN, knownPrefixes, seq.next(), `<wsd:Hello>`+t.body(true)+`</wsd:Hello>`)
}

// BuildBye announces that t is leaving.
func BuildBye(msgID string, seq *Sequence, t Target) []byte {
	return envelope(ActionBye, msgID, "", DiscoveryURN, knownPrefixes, seq.next(), `<wsd:Bye>`+t.body(false)+`</wsd:Bye>`)
}
