package vpcd

import (
	"net"
	"syscall"
)

// quickAck sets TCP_QUICKACK, which Linux clears again by itself: so after
// each read. Without it the delayed ACK of vpcd's small messages stalls the
// exchanges (vpcd answers far faster with it). A connection that is not a
// socket is left alone. Serve ignores the error: it is an optimisation.
func quickAck(conn net.Conn) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	}); err != nil {
		return err
	}
	return serr
}
