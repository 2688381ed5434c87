package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/bli/atmgw/sim/applet"
)

// DefaultAddr is where Debian's vpcd waits for the virtual card of its
// first slot (reader "Virtual PCD 00 00"); the second slot ("Virtual PCD
// 00 01") waits on port 35964.
const DefaultAddr = "127.0.0.1:35963"

// Control codes vpcd sends.
const (
	ctrlPowerOff = 0
	ctrlPowerOn  = 1
	ctrlReset    = 2
	ctrlATR      = 4
)

// atr: TS 3B; T0 89 (TD1 follows, 9 historical bytes); TD1 80 (TD2 follows,
// T=0); TD2 01 (T=1); the historical bytes "ATMGW-SIM"; TCK 3A (the XOR of T0
// to the last historical byte).
const atr = "\x3B\x89\x80\x01" + "ATMGW-SIM" + "\x3A"

// Serve connects to vpcd at addr (DefaultAddr when empty) and acts as the
// card in its reader until ctx is cancelled (it then returns nil) or vpcd
// closes the connection (pcscd stopped: an error wrapping io.EOF). It dials
// once: when nothing listens it fails at once, saying so.
//
// While Serve runs the card belongs to it: nobody else may use the Card
// until Serve has returned. Power off, power on and reset deselect the
// applet (Card.Reset); the ATC is kept.
func Serve(ctx context.Context, addr string, card *applet.Card) error {
	if card == nil {
		return errors.New("vpcd: no card to serve")
	}
	if addr == "" {
		addr = DefaultAddr
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("vpcd: connect to %s (is pcscd running with the vsmartcard-vpcd driver?): %w", addr, err)
	}
	return serveConn(ctx, conn, card)
}

func serveConn(ctx context.Context, conn net.Conn, card *applet.Card) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		stop()
		conn.Close()
	}()
	var hdr [2]byte
	buf := make([]byte, 0, 261)
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return readErr(ctx, err)
		}
		// vpcd writes the length and the body with two send calls, so its
		// Nagle holds the body back until the length is acknowledged: ACK
		// now, not after the delayed-ACK timer (some 40 ms per exchange).
		_ = quickAck(conn)
		n := int(binary.BigEndian.Uint16(hdr[:]))
		buf = buf[:n]
		if _, err := io.ReadFull(conn, buf); err != nil {
			return readErr(ctx, err)
		}
		_ = quickAck(conn)
		var reply []byte
		switch {
		case n == 0:
			continue
		case n == 1:
			switch buf[0] {
			case ctrlPowerOff, ctrlPowerOn, ctrlReset:
				card.Reset()
				continue
			case ctrlATR:
				reply = []byte(atr)
			default:
				continue // an unknown control code needs no answer
			}
		default:
			reply = card.Process(buf)
		}
		if err := writeMsg(conn, reply); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("vpcd: send: %w", err)
		}
	}
}

func readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("vpcd: connection closed by vpcd (pcscd stopped?): %w", err)
	}
	return fmt.Errorf("vpcd: receive: %w", err)
}

func writeMsg(conn net.Conn, b []byte) error {
	if len(b) > 0xFFFF {
		return fmt.Errorf("message of %d bytes is too long", len(b))
	}
	msg := make([]byte, 2, 2+len(b))
	binary.BigEndian.PutUint16(msg, uint16(len(b)))
	_, err := conn.Write(append(msg, b...))
	return err
}
