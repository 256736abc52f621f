package xm

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Responder emulates the NetSurveillance service: it answers a login with
// "user does not exist" (Ret 205, the firmware's answer to an unknown
// account) and any other message with "not logged in" (Ret 105).
type Responder struct {
	Log *slog.Logger
	// IdleTimeout closes a connection that sends nothing; default 10s.
	IdleTimeout time.Duration
	// MaxConns bounds concurrent connections; default 16. Extra ones are
	// closed at once, as a busy device would.
	MaxConns int
}

// Ret codes the responder uses.
const (
	RetNotLoggedIn = 105
	RetNoSuchUser  = 205
)

// Serve accepts connections from ln until ctx ends. It closes ln on return.
func (r *Responder) Serve(ctx context.Context, ln net.Listener) error {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	idle := r.IdleTimeout
	if idle <= 0 {
		idle = 10 * time.Second
	}
	maxConns := r.MaxConns
	if maxConns <= 0 {
		maxConns = 16
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	sem := make(chan struct{}, maxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		select {
		case sem <- struct{}{}:
		default:
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer c.Close()
			cstop := context.AfterFunc(ctx, func() { c.Close() })
			defer cstop()
			r.conn(c, idle, log)
		}()
	}
}

func (r *Responder) conn(c net.Conn, idle time.Duration, log *slog.Logger) {
	for seq := uint32(0); seq < 64; seq++ { // bounded exchange per connection
		_ = c.SetDeadline(time.Now().Add(idle))
		m, err := Read(c)
		if err != nil {
			log.Debug("xm responder: read", "from", c.RemoteAddr(), "err", err)
			return
		}
		rep := Message{Header: Header{Session: m.Session, Sequence: seq}}
		if m.MsgID == MsgLoginReq {
			rep.MsgID = MsgLoginRsp
			rep.Body = JSONBody(map[string]any{"Ret": RetNoSuchUser, "SessionID": "0x00000000"})
		} else {
			rep.MsgID = m.MsgID + 1
			rep.Body = JSONBody(map[string]any{"Ret": RetNotLoggedIn, "SessionID": "0x00000000"})
		}
		if _, err := c.Write(rep.Marshal()); err != nil {
			return
		}
	}
}
