package gateway_test

import (
	"net"
	"testing"
	"time"

	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/iso"
)

// A peer that trickles a frame in, a byte at a time, is cut off by the
// frame deadline, while a good connection keeps being served.
func TestSlowFrameIsCut(t *testing.T) {
	leaktest.Check(t)
	srv, addr, gs, errc := startServer(t, func(o *gateway.Options) { o.FrameTimeout = 300 * time.Millisecond })
	close(gs.gate)
	defer func() { srv.Close(); <-errc }()

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	good, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	r := &rig{stan: 1000}
	signOn(t, good, r, "700")

	raw, _ := iso.Encode(r.request("700", panPost, "390000"))
	frame := append([]byte{byte(len(raw) >> 8), byte(len(raw))}, raw...)
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		for _, b := range frame {
			slow.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := slow.Write([]byte{b}); err != nil {
				return // the gateway closed it
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	// Meanwhile the good connection gets its answers.
	for i := 0; i < 5; i++ {
		if resp, err := good.Do(r.request("700", panPost, "390000"), nil, 5*time.Second); err != nil || resp.ResponseCode != "00" {
			t.Fatalf("good connection: %v %+v", err, resp)
		}
	}
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, err := slow.Read(buf)
	if err == nil {
		t.Fatalf("the trickling peer got %d bytes instead of being cut off", n)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the trickling peer was not cut off")
	}
	<-cut
}

// Caps: connections in total and connections signed on per partner.
func TestConnectionCaps(t *testing.T) {
	leaktest.Check(t)
	srv, addr, gs, errc := startServer(t, func(o *gateway.Options) {
		o.MaxConns = 3
		o.MaxConnsPerPartner = 2
	})
	close(gs.gate)
	defer func() { srv.Close(); <-errc }()

	var cs []*testclient.Client
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	r := &rig{stan: 2000}
	signOnRC := func(c *testclient.Client, inst string) string {
		r.stan++
		m := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: stanOf(r.stan), Institution: inst, NetworkCode: "001"}
		resp, err := c.Do(m, nil, 5*time.Second)
		if err != nil {
			t.Fatalf("sign-on: %v", err)
		}
		return resp.ResponseCode
	}
	for i := 0; i < 3; i++ {
		c, err := testclient.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	if rc := signOnRC(cs[0], "700"); rc != "00" {
		t.Fatalf("first 700: %s", rc)
	}
	if rc := signOnRC(cs[1], "700"); rc != "00" {
		t.Fatalf("second 700: %s", rc)
	}
	if rc := signOnRC(cs[2], "700"); rc != "05" {
		t.Fatalf("third 700 over the partner cap: %s, want 05", rc)
	}
	// A sign-on answered 05 closes the connection.
	if !cs[2].Closed(5 * time.Second) {
		t.Fatal("the connection of a refused sign-on was kept")
	}
	// The client sees the close before the server has forgotten the
	// session: wait for that, or the next dial meets the total cap.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Sessions() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions after the refused one closed, want 2", srv.Sessions())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	cs[2] = c
	if rc := signOnRC(cs[2], "005"); rc != "00" {
		t.Fatalf("another partner on the third connection: %s", rc)
	}
	// The fourth connection is over the total cap: closed at once.
	extra, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if !extra.Closed(5 * time.Second) {
		t.Fatal("a connection over the total cap was kept")
	}
	extra.Close()
	// A sign-off frees a partner slot.
	r.stan++
	off := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: stanOf(r.stan), Institution: "700", NetworkCode: "002"}
	if resp, err := cs[0].Do(off, nil, 5*time.Second); err != nil || resp.ResponseCode != "00" {
		t.Fatalf("sign-off: %v", err)
	}
	if rc := signOnRC(cs[0], "700"); rc != "00" {
		t.Fatalf("700 again after a sign-off: %s", rc)
	}
}

// Garbage of every kind from many connections: the gateway answers what
// the contract says, never panics, and leaves no goroutine behind.
func TestGarbageConnections(t *testing.T) {
	leaktest.Check(t)
	srv, addr, gs, errc := startServer(t, nil)
	close(gs.gate)
	defer func() { srv.Close(); <-errc }()
	inputs := [][]byte{
		{0xFF, 0xFF},                         // oversize length
		{0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, // empty frames
		[]byte("\x00\x04GET /"),
		[]byte("\x00\x140200ZZZZZZZZZZZZZZZZ\x00\x140200ZZZZZZZZZZZZZZZZ\x00\x140200ZZZZZZZZZZZZZZZZ"),
		[]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), // a TLS hello on the plain port
		{0x00, 0x10, '0', '8', '0', '0'},                       // short and then closed
	}
	for _, in := range inputs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(in)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 256)
		n, _ := c.Read(buf)
		if n != 0 {
			t.Errorf("input %q got an answer (%d bytes)", in, n)
		}
		c.Close()
	}
	// Still serving.
	good, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	r := &rig{stan: 3000}
	signOn(t, good, r, "700")
	deadline := time.Now().Add(5 * time.Second)
	for srv.Sessions() > 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv.Sessions(); n != 1 {
		t.Fatalf("%d sessions left after the garbage connections closed", n)
	}
}
