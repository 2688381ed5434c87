package vpcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/sim/applet"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func testCard() *applet.Card {
	key, _ := hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")
	return &applet.Card{PAN: "4000123456789012", Expiry: "2812", Sequence: 1, Key: key}
}

// fakeVPCD is the reader side of the protocol, as vpcd speaks it.
type fakeVPCD struct {
	t    *testing.T
	conn net.Conn
}

func (f fakeVPCD) send(msg []byte) {
	f.t.Helper()
	out := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := f.conn.Write(append(out, msg...)); err != nil {
		f.t.Fatalf("send: %v", err)
	}
}

func (f fakeVPCD) recv() []byte {
	f.t.Helper()
	var hdr [2]byte
	if _, err := io.ReadFull(f.conn, hdr[:]); err != nil {
		f.t.Fatalf("receive: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(f.conn, b); err != nil {
		f.t.Fatalf("receive: %v", err)
	}
	return b
}

func (f fakeVPCD) exchange(msg []byte) []byte {
	f.t.Helper()
	f.send(msg)
	return f.recv()
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// start listens on a loopback port, runs Serve against it and returns the
// accepted connection and Serve's result.
func start(t *testing.T, ctx context.Context, card *applet.Card) (fakeVPCD, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln.Addr().String(), card) }()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// A guard so that a broken test stops by itself, not an assertion on time.
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	return fakeVPCD{t: t, conn: conn}, done
}

func sw(b []byte) string { return hex.EncodeToString(b[len(b)-2:]) }

func TestSession(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	card := testCard()
	v, done := start(t, ctx, card)

	if got := v.exchange([]byte{ctrlATR}); !bytes.Equal(got, ATR()) {
		t.Fatalf("ATR %X, want %X", got, ATR())
	}
	v.send([]byte{ctrlPowerOn})
	v.send(nil)       // an empty message needs no answer
	v.send([]byte{3}) // nor an unknown control code
	if got := v.exchange(mustHex("00A4040008F0424C4941544D0100")); sw(got) != "9000" || got[0] != 0x6F {
		t.Fatalf("SELECT answered %X", got)
	}
	if got := v.exchange(mustHex("00B2010C00")); sw(got) != "9000" || got[0] != 0x70 {
		t.Fatalf("READ RECORD answered %X", got)
	}
	if got := v.exchange(mustHex("80AE800004DEADBEEF00")); sw(got) != "9000" || got[0] != 0x77 {
		t.Fatalf("GENERATE AC answered %X", got)
	}
	for _, ctrl := range []byte{ctrlReset, ctrlPowerOff} {
		v.exchange(mustHex("00A4040008F0424C4941544D0100"))
		v.send([]byte{ctrl})
		if got := v.exchange(mustHex("00B2010C00")); !bytes.Equal(got, []byte{0x69, 0x85}) {
			t.Fatalf("READ RECORD after control %d answered %X, want 6985 (deselected)", ctrl, got)
		}
	}
	if got := v.exchange([]byte{ctrlATR}); !bytes.Equal(got, ATR()) {
		t.Fatalf("ATR after power off %X", got)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if card.ATC != 1 {
		t.Fatalf("card ATC %d after one GENERATE AC", card.ATC)
	}
}

func TestVPCDCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, done := start(t, ctx, testCard())
	v.exchange([]byte{ctrlATR})
	v.conn.Close()
	err := <-done
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Serve = %v, want an error wrapping io.EOF", err)
	}
}

func TestVPCDClosesMidMessage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, done := start(t, ctx, testCard())
	if _, err := v.conn.Write([]byte{0x00, 0x05, 0x00, 0xA4}); err != nil {
		t.Fatal(err)
	}
	v.conn.Close()
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Fatalf("Serve = %v, want an error wrapping io.EOF", err)
	}
}

func TestNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = Serve(context.Background(), addr, testCard())
	if err == nil || !strings.Contains(err.Error(), "pcscd") {
		t.Fatalf("Serve = %v, want an error that names pcscd", err)
	}
}

func TestNoCard(t *testing.T) {
	if err := Serve(context.Background(), DefaultAddr, nil); err == nil {
		t.Fatal("Serve without a card")
	}
}

func TestATR(t *testing.T) {
	a := ATR()
	if a[0] != 0x3B || a[1]&0x0F != 9 || len(a) != 4+9+1 {
		t.Fatalf("ATR %X: wrong TS, T0 or length", a)
	}
	var x byte
	for _, b := range a[1:] {
		x ^= b
	}
	if x != 0 {
		t.Fatalf("ATR %X: check byte wrong (XOR %02X)", a, x)
	}
	a[0] = 0
	if ATR()[0] != 0x3B {
		t.Fatal("ATR() shares its bytes")
	}
}

func TestQuickAck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := quickAck(c); err != nil {
		t.Fatalf("quickAck on a TCP connection: %v", err)
	}
	c.Close()
	if runtime.GOOS == "linux" {
		if err := quickAck(c); err == nil {
			t.Fatal("quickAck on a closed connection reported no error: it does not reach the socket")
		}
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if err := quickAck(p1); err != nil {
		t.Fatalf("quickAck on a pipe: %v", err)
	}
}

// BenchmarkExchange is one APDU exchange with a peer that writes the length
// and the APDU with two calls and Nagle's algorithm on, as Debian's vpcd
// does: without TCP_QUICKACK each exchange waits for the delayed ACK.
func BenchmarkExchange(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln.Addr().String(), testCard()) }()
	conn, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if err := conn.(*net.TCPConn).SetNoDelay(false); err != nil {
		b.Fatal(err)
	}
	apdu := mustHex("00A4040008F0424C4941544D0100")
	hdr := binary.BigEndian.AppendUint16(nil, uint16(len(apdu)))
	resp := make([]byte, 2+25)
	for b.Loop() {
		if _, err := conn.Write(hdr); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Write(apdu); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, resp); err != nil {
			b.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
