package mqtt

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/camwarden/camwarden/firmware/report/wire"
)

// The wire contract (topics, schemas, payloads, decoders) lives in
// firmware/report/wire, which the appliance, wardenctl and integrators share
// without linking this client. These names keep the client's own code short.
const (
	SchemaStatus     = wire.SchemaStatus
	SchemaInfo       = wire.SchemaInfo
	SchemaDevice     = wire.SchemaDevice
	SchemaEvent      = wire.SchemaEvent
	SchemaTele       = wire.SchemaTele
	EvtOutboxDropped = wire.EvtOutboxDropped
	MaxPayload       = wire.MaxPayload
	KindStatus       = wire.KindStatus
	KindInfo         = wire.KindInfo
	KindDevice       = wire.KindDevice
	KindEvent        = wire.KindEvent
	KindTele         = wire.KindTele
)

type (
	Header        = wire.Header
	StatusPayload = wire.StatusPayload
	InfoPayload   = wire.InfoPayload
	DevicePayload = wire.DevicePayload
	EventPayload  = wire.EventPayload
	TelePayload   = wire.TelePayload
)

// ParseTopic and the decoders are wire's.
var (
	ParseTopic   = wire.ParseTopic
	DecodeStatus = wire.DecodeStatus
	DecodeInfo   = wire.DecodeInfo
	DecodeDevice = wire.DecodeDevice
	DecodeEvent  = wire.DecodeEvent
)

func newMsgID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux ≥3.17
	return hex.EncodeToString(b[:])
}
