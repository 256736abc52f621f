package dhip

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/camwarden/camwarden/probes"
	"github.com/camwarden/camwarden/probes/internal/udpdisc"
)

// Protocol constants.
const (
	Port       = 37810
	HeaderSize = 32
	// MaxBody bounds the declared body length; real replies are 1-2 KiB.
	MaxBody = 64 << 10

	MethodSearch = "DHDiscover.search"
	MethodNotify = "client.notifyDevInfo"
)

// Group is the multicast group DHIP searches go to.
var Group = net.IPv4(239, 255, 255, 251)

var magic = []byte("DHIP")

// Errors returned by Parse.
var (
	ErrNotDHIP    = errors.New("dhip: not a DHIP message")
	ErrTruncated  = errors.New("dhip: truncated message")
	ErrTooLarge   = errors.New("dhip: declared body larger than 64 KiB")
	ErrLengths    = errors.New("dhip: header length fields disagree")
	ErrBadJSON    = errors.New("dhip: body is not a JSON object")
	ErrNoDevInfo  = errors.New("dhip: reply without params.deviceInfo")
	ErrNotAnswers = errors.New("dhip: not a discovery reply")
)

// Message is one parsed DHIP datagram: the method and raw params of its body.
type Message struct {
	Method string
	MAC    string // top-level "mac"
	Params map[string]json.RawMessage
}

// Frame puts the 32-byte header in front of body.
func Frame(body []byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	binary.LittleEndian.PutUint32(b[0:], 0x20)
	copy(b[4:], magic)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[24:], uint32(len(body)))
	return append(b, body...)
}

// BuildSearch returns the DHDiscover.search datagram every Dahua tool sends.
func BuildSearch() []byte {
	return Frame([]byte(`{"method":"DHDiscover.search","params":{"mac":"","uni":1}}` + "\n"))
}

// IsDHIP reports whether b starts like a DHIP message (cheap check for the
// passive decoder before any parsing).
func IsDHIP(b []byte) bool {
	return len(b) >= 8 && bytes.Equal(b[4:8], magic)
}

// Body checks the header and returns the body it declares.
func Body(b []byte) ([]byte, error) {
	if len(b) < HeaderSize {
		if IsDHIP(b) || len(b) < 8 {
			return nil, ErrTruncated
		}
		return nil, ErrNotDHIP
	}
	if !IsDHIP(b) {
		return nil, ErrNotDHIP
	}
	n1 := binary.LittleEndian.Uint32(b[16:])
	n2 := binary.LittleEndian.Uint32(b[24:])
	if n1 > MaxBody || n2 > MaxBody {
		return nil, ErrTooLarge
	}
	if n1 != n2 {
		return nil, fmt.Errorf("%w: %d and %d", ErrLengths, n1, n2)
	}
	if uint32(len(b)-HeaderSize) < n1 {
		return nil, fmt.Errorf("%w: header declares %d body bytes, %d present", ErrTruncated, n1, len(b)-HeaderSize)
	}
	return b[HeaderSize : HeaderSize+int(n1)], nil
}

// Parse checks the header and decodes the JSON body.
func Parse(b []byte) (Message, error) {
	body, err := Body(b)
	if err != nil {
		return Message{}, err
	}
	// Bodies end in "\n" and some firmware adds a NUL.
	body = bytes.TrimRight(body, "\x00\r\n\t ")
	var raw struct {
		Method string                     `json:"method"`
		MAC    json.RawMessage            `json:"mac"`
		Params map[string]json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	return Message{Method: raw.Method, MAC: scalar(raw.MAC), Params: raw.Params}, nil
}

// Reply is a client.notifyDevInfo answer. Values are as sent; numbers are
// rendered in decimal.
type Reply struct {
	MAC          string // top-level mac
	DeviceClass  string
	DeviceType   string // model
	SerialNo     string
	Version      string // firmware
	Vendor       string // OEM brand ("General", "Lorex", "Private")
	Manufacturer string
	MachineName  string
	HTTPPort     string
	Port         string // SDK port (37777)
	IPv4Address  string // IPv4Address.IPAddress
}

// ParseReply parses a client.notifyDevInfo datagram.
func ParseReply(b []byte) (Reply, error) {
	m, err := Parse(b)
	if err != nil {
		return Reply{}, err
	}
	if m.Method != MethodNotify {
		return Reply{}, fmt.Errorf("%w: method %q", ErrNotAnswers, probes.Clean(m.Method))
	}
	var info map[string]json.RawMessage
	if err := json.Unmarshal(m.Params["deviceInfo"], &info); err != nil || info == nil {
		return Reply{}, ErrNoDevInfo
	}
	r := Reply{
		MAC:          m.MAC,
		DeviceClass:  scalar(info["DeviceClass"]),
		DeviceType:   scalar(info["DeviceType"]),
		SerialNo:     scalar(info["SerialNo"]),
		Version:      scalar(info["Version"]),
		Vendor:       scalar(info["Vendor"]),
		Manufacturer: scalar(info["Manufacturer"]),
		MachineName:  scalar(info["MachineName"]),
		HTTPPort:     scalar(info["HttpPort"]),
		Port:         scalar(info["Port"]),
	}
	var v4 map[string]json.RawMessage
	if json.Unmarshal(info["IPv4Address"], &v4) == nil {
		r.IPv4Address = scalar(v4["IPAddress"])
	}
	return r, nil
}

// scalar renders a JSON string, number or boolean as text; anything else
// (objects, arrays, null, absent) as "".
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case 't', 'f':
		var v bool
		if json.Unmarshal(raw, &v) == nil {
			return strconv.FormatBool(v)
		}
	case '{', '[', 'n':
	default:
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// Marshal renders the reply as a framed datagram, the shape of an
// IPC-HDW1431T1-S4's answer.
func (r Reply) Marshal() []byte {
	info := map[string]any{
		"DeviceClass":  r.DeviceClass,
		"DeviceType":   r.DeviceType,
		"SerialNo":     r.SerialNo,
		"Version":      r.Version,
		"Vendor":       r.Vendor,
		"MachineName":  r.MachineName,
		"IPv4Address":  map[string]any{"IPAddress": r.IPv4Address, "DhcpEnable": true},
		"Find":         "BC",
		"FindVersion":  1,
		"Init":         2714,
		"DeviceID":     "",
		"Manufacturer": r.Manufacturer,
	}
	if r.Manufacturer == "" {
		delete(info, "Manufacturer")
	}
	if n, err := strconv.Atoi(r.HTTPPort); err == nil {
		info["HttpPort"] = n
	}
	if n, err := strconv.Atoi(r.Port); err == nil {
		info["Port"] = n
	}
	body, _ := json.Marshal(map[string]any{
		"mac":    r.MAC,
		"method": MethodNotify,
		"params": map[string]any{"deviceInfo": info},
	})
	return Frame(append(body, '\n'))
}

// HardwareAddr parses the MAC the reply claims; nil when absent, malformed
// or all zero. It is the device's word, not the sender's address:
// attribute answers to the frame or datagram source.
func (r Reply) HardwareAddr() net.HardwareAddr {
	hw, _ := net.ParseMAC(udpdisc.ClaimedMAC(r.MAC))
	return hw
}

// Facts returns the dhip.* facts of the reply, dhip.seen first.
func (r Reply) Facts() []probes.Fact {
	fs := []probes.Fact{{Key: "dhip.seen", Value: "reply"}}
	add := func(k, v string) {
		if v = probes.Clean(v); v != "" {
			fs = append(fs, probes.Fact{Key: k, Value: v})
		}
	}
	add("dhip.model", r.DeviceType)
	add("dhip.class", r.DeviceClass)
	add("dhip.serial", r.SerialNo)
	add("dhip.firmware", r.Version)
	add("dhip.vendor", r.Vendor)
	add("dhip.manufacturer", r.Manufacturer)
	// The MAC and address the reply names are the device's claim about
	// itself, in one form so the pipeline can compare them with the
	// sender's; they never decide who answered.
	add("dhip.mac", udpdisc.ClaimedMAC(r.MAC))
	add("dhip.ipv4", udpdisc.ClaimedIPv4(r.IPv4Address))
	add("dhip.http_port", r.HTTPPort)
	return fs
}
