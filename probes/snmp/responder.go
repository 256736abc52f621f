package snmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Responder is a minimal SNMP v2c agent for camsim: it answers GET for
// sysDescr.0 and sysObjectID.0 to one community and ignores every other
// request, as an agent does when the community is wrong.
type Responder struct {
	Community   string
	SysDescr    string
	SysObjectID string // dotted; "" answers noSuchInstance
	Log         *slog.Logger
}

// maxRequestVars bounds the variables of one request the responder answers.
const maxRequestVars = 16

// Serve answers datagrams on pc until ctx ends; it returns nil then.
func (r *Responder) Serve(ctx context.Context, pc net.PacketConn) error {
	if r.Community == "" {
		return errors.New("snmp responder: no community configured")
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, MaxReply)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("snmp responder: read: %w", err)
		}
		reply, err := r.Answer(buf[:n])
		if err != nil {
			log.Debug("snmp responder: request ignored", "from", from, "err", err)
			continue
		}
		if _, err := pc.WriteTo(reply, from); err != nil {
			log.Debug("snmp responder: send", "to", from, "err", err)
		}
	}
}

// Answer builds the reply to one request datagram, or an error when the
// request gets none (not v2c GET, wrong community, malformed).
func (r *Responder) Answer(b []byte) (reply []byte, err error) {
	defer func() {
		if e := recover(); e != nil {
			reply, err = nil, fmt.Errorf("malformed request (decoder panic: %v)", e)
		}
	}()
	if v, ok := version(b); !ok || v != 1 {
		return nil, errors.New("not an SNMP v2c message")
	}
	g := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	req, err := g.SnmpDecodePacket(b)
	if err != nil {
		return nil, err
	}
	if req.PDUType != gosnmp.GetRequest {
		return nil, fmt.Errorf("PDU %v", req.PDUType)
	}
	if req.Community != r.Community {
		return nil, errors.New("wrong community") // the value stays out of logs
	}
	if len(req.Variables) > maxRequestVars {
		return nil, fmt.Errorf("%d variables", len(req.Variables))
	}
	resp := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: req.Community, PDUType: gosnmp.GetResponse,
		RequestID: req.RequestID}
	for _, v := range req.Variables {
		name := strings.TrimPrefix(v.Name, ".")
		pdu := gosnmp.SnmpPDU{Name: name, Type: gosnmp.NoSuchObject}
		switch {
		case name == OIDSysDescr:
			pdu.Type, pdu.Value = gosnmp.OctetString, []byte(r.SysDescr)
		case name == OIDSysObjectID && r.SysObjectID != "":
			pdu.Type, pdu.Value = gosnmp.ObjectIdentifier, strings.TrimPrefix(r.SysObjectID, ".")
		case name == OIDSysObjectID:
			pdu.Type = gosnmp.NoSuchInstance
		}
		resp.Variables = append(resp.Variables, pdu)
	}
	return resp.MarshalMsg()
}
