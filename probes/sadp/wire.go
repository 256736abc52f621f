package sadp

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// Protocol constants.
const (
	Port = 37020
	// MaxMessage bounds one SADP datagram we parse: real replies are about
	// 1.5 KiB, so 8 KiB leaves room for newer firmware without letting a
	// hostile sender make us walk megabytes of XML.
	MaxMessage = 8 << 10
	// maxElements bounds how many child elements of the root we look at.
	maxElements = 256
)

// Group is the multicast group SADP inquiries (and replies) go to.
var Group = net.IPv4(239, 255, 255, 250)

// Errors returned by the parsers.
var (
	ErrTooLarge  = errors.New("sadp: message larger than 8 KiB")
	ErrNotSADP   = errors.New("sadp: not an SADP message")
	ErrMalformed = errors.New("sadp: malformed XML")
)

// Inquiry is a search request.
type Inquiry struct {
	UUID  string
	Types string // "inquiry" for searches
}

// Reply is one ProbeMatch. Fields hold the device's own words; Extra keeps
// elements this package does not name, in order, so golden tests and debug
// output see what newer firmware added.
type Reply struct {
	UUID              string
	Types             string
	DeviceType        string // numeric model class
	DeviceDescription string // model, e.g. DS-2CD2385G1-I
	DeviceSN          string // model + date + serial
	CommandPort       string
	HTTPPort          string
	MAC               string // dash-separated as sent; "" on firmware that hides it
	IPv4Address       string
	IPv4SubnetMask    string
	IPv4Gateway       string
	SoftwareVersion   string
	DSPVersion        string
	Activated         string
	DetailOEMCode     string
	SDKOverTLSPort    string
	Extra             []Element
}

// Element is a child element of the root that has no Reply field.
type Element struct{ Name, Value string }

// NewUUID returns a random RFC 4122 version 4 UUID in upper case, the form
// the Hikvision SADP tool sends.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// BuildInquiry returns the datagram of a search with the given UUID.
func BuildInquiry(uuid string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>`)
	_ = xml.EscapeText(&b, []byte(uuid))
	b.WriteString(`</Uuid><Types>inquiry</Types></Probe>`)
	return b.Bytes()
}

// ParseInquiry parses a <Probe> datagram.
func ParseInquiry(b []byte) (Inquiry, error) {
	root, elems, err := parse(b)
	if err != nil {
		return Inquiry{}, err
	}
	if root != "Probe" {
		return Inquiry{}, fmt.Errorf("%w: root <%s>", ErrNotSADP, root)
	}
	var q Inquiry
	for _, e := range elems {
		switch e.Name {
		case "Uuid":
			q.UUID = e.Value
		case "Types":
			q.Types = e.Value
		}
	}
	return q, nil
}

// ParseReply parses a <ProbeMatch> datagram. Unknown elements are kept in
// Extra; a missing MAC is not an error (newer firmware omits it).
func ParseReply(b []byte) (Reply, error) {
	root, elems, err := parse(b)
	if err != nil {
		return Reply{}, err
	}
	if root != "ProbeMatch" {
		return Reply{}, fmt.Errorf("%w: root <%s>", ErrNotSADP, root)
	}
	var r Reply
	for _, e := range elems {
		if p := r.field(e.Name); p != nil {
			*p = e.Value
		} else {
			r.Extra = append(r.Extra, e)
		}
	}
	return r, nil
}

// field maps an element name to its Reply field.
func (r *Reply) field(name string) *string {
	switch name {
	case "Uuid":
		return &r.UUID
	case "Types":
		return &r.Types
	case "DeviceType":
		return &r.DeviceType
	case "DeviceDescription":
		return &r.DeviceDescription
	case "DeviceSN":
		return &r.DeviceSN
	case "CommandPort":
		return &r.CommandPort
	case "HttpPort":
		return &r.HTTPPort
	case "MAC":
		return &r.MAC
	case "IPv4Address":
		return &r.IPv4Address
	case "IPv4SubnetMask":
		return &r.IPv4SubnetMask
	case "IPv4Gateway":
		return &r.IPv4Gateway
	case "SoftwareVersion":
		return &r.SoftwareVersion
	case "DSPVersion":
		return &r.DSPVersion
	case "Activated":
		return &r.Activated
	case "DetailOEMCode":
		return &r.DetailOEMCode
	case "SDKOverTLSPort":
		return &r.SDKOverTLSPort
	}
	return nil
}

// Marshal renders the reply as a device would send it: fields in the order
// a DS-2CD2385G1-I uses, empty ones left out, Extra appended.
func (r Reply) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>`)
	put := func(name, v string) {
		if v == "" {
			return
		}
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(&b, []byte(v))
		b.WriteString("</" + name + ">")
	}
	put("Uuid", r.UUID)
	put("Types", r.Types)
	put("DeviceType", r.DeviceType)
	put("DeviceDescription", r.DeviceDescription)
	put("DeviceSN", r.DeviceSN)
	put("CommandPort", r.CommandPort)
	put("HttpPort", r.HTTPPort)
	put("MAC", r.MAC)
	put("IPv4Address", r.IPv4Address)
	put("IPv4SubnetMask", r.IPv4SubnetMask)
	put("IPv4Gateway", r.IPv4Gateway)
	put("SoftwareVersion", r.SoftwareVersion)
	put("DSPVersion", r.DSPVersion)
	put("Activated", r.Activated)
	put("DetailOEMCode", r.DetailOEMCode)
	put("SDKOverTLSPort", r.SDKOverTLSPort)
	for _, e := range r.Extra {
		if isName(e.Name) {
			put(e.Name, e.Value)
		}
	}
	b.WriteString(`</ProbeMatch>`)
	return b.Bytes()
}

func isName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// HardwareAddr parses the MAC the reply claims (dash- or colon-separated);
// nil when absent, malformed or all zero. It is the device's word, not the
// sender's address: attribute answers to the frame or datagram source.
func (r Reply) HardwareAddr() net.HardwareAddr {
	hw, _ := net.ParseMAC(udpdisc.ClaimedMAC(r.MAC))
	return hw
}

// Facts returns the sadp.* facts of the reply (FACTS.md), without sadp.seen.
func (r Reply) Facts() []probes.Fact {
	var fs []probes.Fact
	add := func(k, v string) {
		if v = probes.Clean(v); v != "" {
			fs = append(fs, probes.Fact{Key: k, Value: v})
		}
	}
	add("sadp.model", r.DeviceDescription)
	add("sadp.serial", r.DeviceSN)
	add("sadp.firmware", r.SoftwareVersion)
	add("sadp.dsp", r.DSPVersion)
	// The MAC and address the reply names are the device's claim about
	// itself, in one form so the pipeline can compare them with the
	// sender's; they never decide who answered.
	add("sadp.mac", udpdisc.ClaimedMAC(r.MAC))
	add("sadp.ipv4", udpdisc.ClaimedIPv4(r.IPv4Address))
	add("sadp.device_type", r.DeviceType)
	add("sadp.activated", r.Activated)
	add("sadp.oem_code", r.DetailOEMCode)
	add("sadp.http_port", r.HTTPPort)
	add("sadp.command_port", r.CommandPort)
	return fs
}

// parse walks a bounded XML document and returns the root element name and
// the text of its direct children. Deeper structure is skipped (no SADP
// field we use is nested) but still bounded by the size cap.
func parse(b []byte) (string, []Element, error) {
	if len(b) > MaxMessage {
		return "", nil, ErrTooLarge
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	// Some firmware declares encoding="GB2312"; the fields we read are
	// ASCII, so read the bytes as they are rather than fail.
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	var (
		root  string
		elems []Element
		depth int
		cur   *Element
		text  strings.Builder
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch depth {
			case 1:
				if root != "" {
					return "", nil, fmt.Errorf("%w: second root element", ErrMalformed)
				}
				root = t.Name.Local
			case 2:
				if len(elems) >= maxElements {
					return "", nil, fmt.Errorf("%w: more than %d elements", ErrMalformed, maxElements)
				}
				elems = append(elems, Element{Name: t.Name.Local})
				cur = &elems[len(elems)-1]
				text.Reset()
			}
		case xml.EndElement:
			if depth == 2 && cur != nil {
				cur.Value = strings.TrimSpace(text.String())
				cur = nil
			}
			depth--
		case xml.CharData:
			if depth == 2 && text.Len() < MaxMessage {
				text.Write(t)
			}
		}
	}
	if root == "" {
		return "", nil, ErrNotSADP
	}
	return root, elems, nil
}

// Kind tells an inquiry from a reply without a full parse, for the passive
// decoder: "inquiry", "reply" or "" when the datagram is not SADP XML.
func Kind(b []byte) string {
	head := b
	if len(head) > 256 {
		head = head[:256]
	}
	switch {
	case bytes.Contains(head, []byte("<ProbeMatch")):
		return "reply"
	case bytes.Contains(head, []byte("<Probe>")) || bytes.Contains(head, []byte("<Probe ")):
		return "inquiry"
	}
	return ""
}
