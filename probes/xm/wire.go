package xm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Protocol constants.
const (
	Port       = 34567
	HeaderSize = 20
	Magic      = 0xff
	// MaxBody bounds a declared body length we accept: login replies are a
	// few hundred bytes; config dumps run to tens of KiB, which we never ask
	// for.
	MaxBody = 64 << 10

	MsgLoginReq  = 1000
	MsgLoginRsp  = 1001
	MsgKeepAlive = 1006
)

// Errors returned by the parsers.
var (
	ErrNotXM     = errors.New("xm: not a NetSurveillance message")
	ErrTruncated = errors.New("xm: truncated message")
	ErrTooLarge  = errors.New("xm: declared body larger than 64 KiB")
)

// Header is the fixed part of every message.
type Header struct {
	Version  byte
	Session  uint32
	Sequence uint32
	Total    byte // packets in this message (0 or 1 for single packets)
	Index    byte
	MsgID    uint16
	Length   uint32 // body bytes that follow
}

// Message is a header and its body.
type Message struct {
	Header
	Body []byte
}

// ParseHeader checks and decodes the first HeaderSize bytes of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) > 0 && b[0] != Magic {
		return Header{}, fmt.Errorf("%w: first byte %#02x", ErrNotXM, b[0])
	}
	if len(b) < HeaderSize {
		return Header{}, ErrTruncated
	}
	if b[2] != 0 || b[3] != 0 {
		// The reserved bytes are zero on every firmware we know; a
		// 0xff-led banner of something else usually is not.
		return Header{}, fmt.Errorf("%w: reserved bytes %#02x%02x", ErrNotXM, b[2], b[3])
	}
	h := Header{
		Version:  b[1],
		Session:  binary.LittleEndian.Uint32(b[4:]),
		Sequence: binary.LittleEndian.Uint32(b[8:]),
		Total:    b[12],
		Index:    b[13],
		MsgID:    binary.LittleEndian.Uint16(b[14:]),
		Length:   binary.LittleEndian.Uint32(b[16:]),
	}
	if h.Length > MaxBody {
		return Header{}, fmt.Errorf("%w (%d)", ErrTooLarge, h.Length)
	}
	return h, nil
}

// Parse decodes one whole message from b (header and declared body).
func Parse(b []byte) (Message, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return Message{}, err
	}
	if uint32(len(b)-HeaderSize) < h.Length {
		return Message{}, fmt.Errorf("%w: %d body bytes declared, %d present", ErrTruncated, h.Length, len(b)-HeaderSize)
	}
	return Message{Header: h, Body: b[HeaderSize : HeaderSize+int(h.Length)]}, nil
}

// Read reads one message from r, bounded by MaxBody.
func Read(r io.Reader) (Message, error) {
	var hb [HeaderSize]byte
	if _, err := io.ReadFull(r, hb[:1]); err != nil {
		return Message{}, err
	}
	if hb[0] != Magic {
		return Message{}, fmt.Errorf("%w: first byte %#02x", ErrNotXM, hb[0])
	}
	if _, err := io.ReadFull(r, hb[1:]); err != nil {
		return Message{}, fmt.Errorf("%w: header: %v", ErrTruncated, err)
	}
	h, err := ParseHeader(hb[:])
	if err != nil {
		return Message{}, err
	}
	body := make([]byte, h.Length)
	if _, err := io.ReadFull(r, body); err != nil {
		return Message{}, fmt.Errorf("%w: body: %v", ErrTruncated, err)
	}
	return Message{Header: h, Body: body}, nil
}

// Marshal renders the message with Length set from Body.
func (m Message) Marshal() []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(m.Body))
	b[0] = Magic
	b[1] = m.Version
	binary.LittleEndian.PutUint32(b[4:], m.Session)
	binary.LittleEndian.PutUint32(b[8:], m.Sequence)
	b[12], b[13] = m.Total, m.Index
	binary.LittleEndian.PutUint16(b[14:], m.MsgID)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(m.Body)))
	return append(b, m.Body...)
}

// JSONBody renders v as a body the way the firmware frames JSON: "\n\0"
// after the document.
func JSONBody(v any) []byte {
	b, _ := json.Marshal(v)
	return append(b, '\n', 0)
}

// Ret returns the "Ret" status code of a JSON body, or -1 when there is none.
func (m Message) Ret() int {
	var v struct {
		Ret *int `json:"Ret"`
	}
	body := bytes.TrimRight(m.Body, "\x00\r\n ")
	if json.Unmarshal(body, &v) != nil || v.Ret == nil {
		return -1
	}
	return *v.Ret
}

// ProbeRequest is the request the Prober sends: a login with an empty user
// name and no password. Login is the one message every firmware answers
// before a session exists; an empty user name matches no account, so no
// real account's failed-login counter moves.
func ProbeRequest() Message {
	return Message{
		Header: Header{MsgID: MsgLoginReq},
		Body: JSONBody(map[string]string{
			"EncryptType": "MD5",
			"LoginType":   "DVRIP-Web",
			"PassWord":    "",
			"UserName":    "",
		}),
	}
}
