package gateway_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bli/atmgw/configs"
	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/app"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/demo"
)

// gateStore is the demo ledger, except that inquiries for one PAN hash
// wait until the gate opens: a slow ledger call under the test's control.
type gateStore struct {
	ledger.Store
	slowHash string
	entered  chan struct{}
	gate     chan struct{}
}

func (s *gateStore) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	if q.PANHash == s.slowHash {
		s.entered <- struct{}{}
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ledger.Answer{}, ctx.Err()
		}
	}
	return s.Store.Inquire(ctx, q)
}

// startServer runs a Server on loopback with a gated demo ledger.
func startServer(t *testing.T, mutate func(*gateway.Options)) (*gateway.Server, string, *gateStore, <-chan error) {
	t.Helper()
	cfg := &config.Config{}
	if err := config.Parse(configs.Example, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := cfg.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := app.Hasher(s)
	mem, err := demo.Open(h)
	if err != nil {
		t.Fatal(err)
	}
	gs := &gateStore{Store: mem, slowHash: h.Hash(panPost), entered: make(chan struct{}, 16), gate: make(chan struct{})}
	opts := gateway.Options{Partners: s.Gateway.Partners, Profiles: s.Gateway.Profiles, Store: gs, Hasher: h,
		CardState: ledger.NewMemoryCardState(ledger.CardStateOptions{RateLimit: -1})}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := gateway.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	return srv, l.Addr().String(), gs, errc
}

func signOn(t *testing.T, c *testclient.Client, r *rig, inst string) {
	t.Helper()
	r.stan++
	m := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: stanOf(r.stan), Institution: inst, NetworkCode: "001"}
	resp, err := c.Do(m, nil, 5*time.Second)
	if err != nil || resp.ResponseCode != "00" {
		t.Fatalf("sign-on: %v %+v", err, resp)
	}
}

func stanOf(n int) string {
	b := []byte("000000")
	for i := 5; i >= 0 && n > 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}

// Responses go back as each is ready: a slow inquiry does not hold up a
// fast one sent after it on the same connection.
func TestAnswersOutOfOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv, addr, gs, errc := startServer(t, nil)
	defer func() { srv.Close(); <-errc }()
	c, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := &rig{stan: 500}
	signOn(t, c, r, "700")
	slow := r.request("700", panPost, "380000")
	if err := c.Send(slow, nil); err != nil {
		t.Fatal(err)
	}
	<-gs.entered
	fast := r.request("700", panWrongDOB, "380000")
	if resp, err := c.Do(fast, nil, 5*time.Second); err != nil || resp.ResponseCode != "25" {
		t.Fatalf("fast request behind a slow one: %v %+v", err, resp)
	}
	if _, err := c.Await(slow.STAN, 100*time.Millisecond); !errors.Is(err, testclient.ErrTimeout) {
		t.Fatalf("the slow request was answered before its ledger call ended: %v", err)
	}
	close(gs.gate)
	if resp, err := c.Await(slow.STAN, 5*time.Second); err != nil || resp.ResponseCode != "00" {
		t.Fatalf("slow request: %v %+v", err, resp)
	}
}

// Shutdown stops accepting, answers what is in flight, then closes.
func TestShutdownAnswersInFlight(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv, addr, gs, errc := startServer(t, nil)
	c, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := &rig{stan: 600}
	signOn(t, c, r, "700")
	m := r.request("700", panPost, "390000")
	if err := c.Send(m, nil); err != nil {
		t.Fatal(err)
	}
	<-gs.entered
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	if err := <-errc; !errors.Is(err, gateway.ErrServerClosed) {
		t.Fatalf("Serve returned %v, want ErrServerClosed", err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("still accepting after Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(gs.gate)
	resp, err := c.Await(m.STAN, 5*time.Second)
	if err != nil || resp.ResponseCode != "00" {
		t.Fatalf("in-flight request: %v %+v", err, resp)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !c.Closed(5 * time.Second) {
		t.Fatal("connection left open after Shutdown")
	}
}

// Close cuts everything at once, cancels the ledger call and leaks nothing;
// a Shutdown whose context ends does the same.
func TestCloseAndShutdownDeadline(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, name := range []string{"Close", "Shutdown deadline"} {
		t.Run(name, func(t *testing.T) {
			srv, addr, gs, errc := startServer(t, nil)
			c, err := testclient.Dial(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := &rig{stan: 700}
			signOn(t, c, r, "700")
			c.Send(r.request("700", panPost, "390000"), nil)
			<-gs.entered
			if name == "Close" {
				srv.Close()
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
				}
			}
			<-errc
			if !c.Closed(5 * time.Second) {
				t.Fatal("connection left open")
			}
			if n := srv.Sessions(); n != 0 {
				t.Fatalf("%d sessions left", n)
			}
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv, addr, _, errc := startServer(t, func(o *gateway.Options) { o.IdleTimeout = 200 * time.Millisecond })
	defer func() { srv.Close(); <-errc }()
	c, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	signOn(t, c, &rig{}, "700")
	if !c.Closed(10 * time.Second) {
		t.Fatal("an idle connection was not closed")
	}
}

// A frame whose message is cut inside DE55 (MTI and DE11 recoverable) is
// answered 30 and the connection goes on; a frame cut short by the peer
// closing ends only that connection.
func TestTruncatedBodies(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv, addr, gs, errc := startServer(t, nil)
	close(gs.gate)
	defer func() { srv.Close(); <-errc }()
	c, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := &rig{stan: 800}
	signOn(t, c, r, "700")
	m := r.request("700", panPost, "380000")
	raw, _ := iso.Encode(m)
	if err := c.SendRaw(raw[:len(raw)-10]); err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Await(m.STAN, 5*time.Second); err != nil || resp.ResponseCode != "30" {
		t.Fatalf("truncated DE55: %v %+v", err, resp)
	}
	if resp, err := c.Do(r.request("700", panPost, "390000"), nil, 5*time.Second); err != nil || resp.ResponseCode != "00" {
		t.Fatalf("after the truncated frame: %v %+v", err, resp)
	}

	c2, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// An echo first, so that the gateway has the connection for sure.
	echo := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000999", Institution: "700", NetworkCode: "301"}
	if resp, err := c2.Do(echo, nil, 5*time.Second); err != nil || resp.ResponseCode != "00" {
		t.Fatalf("echo: %v %+v", err, resp)
	}
	if n := srv.Sessions(); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	c2.SendBytes([]byte{0x00, 0x80, '0', '2', '0', '0'}) // 128 announced, 4 sent
	c2.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		deadline := time.Now().Add(5 * time.Second)
		for srv.Sessions() > 1 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	wg.Wait()
	if n := srv.Sessions(); n != 1 {
		t.Fatalf("%d sessions, want only the good one", n)
	}
}
