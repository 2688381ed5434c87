//go:build !linux

package vpcd

import "net"

// quickAck: TCP_QUICKACK is Linux only.
func quickAck(net.Conn) error { return nil }
