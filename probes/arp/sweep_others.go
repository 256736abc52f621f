//go:build !linux

package arp

import "net"

func dialPacket(*net.Interface) (Conn, error) { return nil, ErrUnsupported }
