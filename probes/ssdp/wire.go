package ssdp

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/camwarden/camwarden/probes"
)

// Protocol constants.
const (
	Port = 1900
	// MaxMessage bounds one HTTPU datagram we parse; real ones are under
	// 1 KiB.
	MaxMessage = 8 << 10
	// MaxDescription bounds a description document we read.
	MaxDescription = 64 << 10

	STAll  = "ssdp:all"
	STRoot = "upnp:rootdevice"
)

// Group is the SSDP multicast group.
var Group = net.IPv4(239, 255, 255, 250)

// Errors returned by the parsers.
var (
	ErrTooLarge = errors.New("ssdp: message larger than 8 KiB")
	ErrNotSSDP  = errors.New("ssdp: not an SSDP message")
)

// Kinds of message.
const (
	KindMSearch  = "msearch"
	KindNotify   = "notify"
	KindResponse = "response"
)

// Message is one parsed SSDP datagram.
type Message struct {
	Kind     string
	Status   int    // responses only
	Server   string // SERVER
	Location string // LOCATION
	USN      string
	ST       string // ST of searches and responses, NT of notifies
	NTS      string // ssdp:alive, ssdp:byebye (notifies)
	MAN      string // searches
	MX       string // searches
}

// Parse reads an HTTPU datagram with net/http's request/response parsers.
func Parse(b []byte) (Message, error) {
	if len(b) > MaxMessage {
		return Message{}, ErrTooLarge
	}
	// HTTPU messages end with the blank line; some devices leave it out of
	// the datagram, which would make the HTTP parser wait for more.
	if !bytes.Contains(b, []byte("\r\n\r\n")) && !bytes.Contains(b, []byte("\n\n")) {
		b = append(append([]byte(nil), b...), "\r\n\r\n"...)
	}
	br := bufio.NewReaderSize(bytes.NewReader(b), MaxMessage+16)
	var m Message
	var h http.Header
	if bytes.HasPrefix(b, []byte("HTTP/")) {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return Message{}, fmt.Errorf("%w: %v", ErrNotSSDP, err)
		}
		resp.Body.Close()
		m.Kind, m.Status, h = KindResponse, resp.StatusCode, resp.Header
		m.ST = h.Get("ST")
	} else {
		req, err := http.ReadRequest(br)
		if err != nil {
			return Message{}, fmt.Errorf("%w: %v", ErrNotSSDP, err)
		}
		req.Body.Close()
		h = req.Header
		switch req.Method {
		case "M-SEARCH":
			m.Kind, m.ST, m.MAN, m.MX = KindMSearch, h.Get("ST"), h.Get("MAN"), h.Get("MX")
		case "NOTIFY":
			m.Kind, m.ST, m.NTS = KindNotify, h.Get("NT"), h.Get("NTS")
		default:
			return Message{}, fmt.Errorf("%w: method %q", ErrNotSSDP, probes.Clean(req.Method))
		}
	}
	m.Server, m.Location, m.USN = h.Get("SERVER"), h.Get("LOCATION"), h.Get("USN")
	return m, nil
}

// Facts returns the ssdp.* facts a device's NOTIFY or response carries.
func (m Message) Facts() []probes.Fact {
	var fs []probes.Fact
	add := func(k, v string) {
		if v = probes.Clean(v); v != "" {
			fs = append(fs, probes.Fact{Key: k, Value: v})
		}
	}
	add("ssdp.server", m.Server)
	add("ssdp.location", m.Location)
	add("ssdp.usn", m.USN)
	add("ssdp.st", m.ST)
	return fs
}

// BuildMSearch returns an M-SEARCH for st. host is the HOST header:
// "239.255.255.250:1900" for multicast, the device's ip:port for unicast
// (where UDA 1.1 leaves out MX).
func BuildMSearch(host, st string, multicast bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "M-SEARCH * HTTP/1.1\r\nHOST: %s\r\nMAN: \"ssdp:discover\"\r\n", host)
	if multicast {
		b.WriteString("MX: 1\r\n")
	}
	fmt.Fprintf(&b, "ST: %s\r\n\r\n", st)
	return b.Bytes()
}

// BuildResponse returns the answer to an M-SEARCH.
func BuildResponse(st, usn, location, server string) []byte {
	return []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\nLOCATION: %s\r\nSERVER: %s\r\nST: %s\r\nUSN: %s\r\n\r\n",
		location, server, st, usn))
}

// BuildNotify returns a NOTIFY with nts ssdp:alive or ssdp:byebye.
func BuildNotify(nt, nts, usn, location, server string) []byte {
	return []byte(fmt.Sprintf("NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: %s\r\nNT: %s\r\nNTS: %s\r\nSERVER: %s\r\nUSN: %s\r\n\r\n",
		location, nt, nts, server, usn))
}

// Description is the part of a UPnP device description we read.
type Description struct {
	XMLName xml.Name `xml:"urn:schemas-upnp-org:device-1-0 root"`
	Spec    struct {
		Major int `xml:"major"`
		Minor int `xml:"minor"`
	} `xml:"specVersion"`
	Device Device `xml:"device"`
}

// Device is the root device of a description.
type Device struct {
	DeviceType       string `xml:"deviceType"`
	FriendlyName     string `xml:"friendlyName"`
	Manufacturer     string `xml:"manufacturer"`
	ManufacturerURL  string `xml:"manufacturerURL,omitempty"`
	ModelDescription string `xml:"modelDescription,omitempty"`
	ModelName        string `xml:"modelName"`
	ModelNumber      string `xml:"modelNumber,omitempty"`
	SerialNumber     string `xml:"serialNumber,omitempty"`
	UDN              string `xml:"UDN"`
}

// ParseDescription parses a description document of at most MaxDescription
// bytes. Namespaces are not checked: devices get them wrong.
func ParseDescription(b []byte) (Description, error) {
	if len(b) > MaxDescription {
		return Description{}, fmt.Errorf("ssdp: description larger than %d bytes", MaxDescription)
	}
	var raw struct {
		XMLName xml.Name
		Device  Device `xml:"device"`
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	if err := d.Decode(&raw); err != nil {
		return Description{}, fmt.Errorf("ssdp: description: %w", err)
	}
	if raw.XMLName.Local != "root" {
		return Description{}, fmt.Errorf("ssdp: description: root element <%s>", probes.Clean(raw.XMLName.Local))
	}
	var desc Description
	desc.Spec.Major, desc.Spec.Minor = 1, 0
	desc.Device = raw.Device
	return desc, nil
}

// Marshal renders the description document.
func (d Description) Marshal() []byte {
	d.Spec.Major, d.Spec.Minor = 1, 0
	b, _ := xml.MarshalIndent(d, "", "  ")
	return append([]byte(xml.Header), b...)
}

// Facts returns the upnp.* facts of the description.
func (d Description) Facts() []probes.Fact {
	var fs []probes.Fact
	add := func(k, v string) {
		if v = probes.Clean(v); v != "" {
			fs = append(fs, probes.Fact{Key: k, Value: v})
		}
	}
	add("upnp.manufacturer", d.Device.Manufacturer)
	add("upnp.model_name", d.Device.ModelName)
	add("upnp.model_number", d.Device.ModelNumber)
	add("upnp.serial", d.Device.SerialNumber)
	add("upnp.friendly_name", d.Device.FriendlyName)
	add("upnp.device_type", d.Device.DeviceType)
	return fs
}

// trimST normalises an ST for comparison.
func trimST(s string) string { return strings.TrimSpace(s) }
