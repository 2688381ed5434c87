package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bli/atmgw/gateway"
	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger"
)

// dialFrom connects to addr from a chosen loopback source address.
func dialFrom(t *testing.T, src, addr string) *testclient.Client {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return testclient.New(conn)
}

// onlyFrom lets every partner sign on from one address only.
func onlyFrom(a string) func(*gateway.Options) {
	return func(o *gateway.Options) {
		for i := range o.Partners {
			o.Partners[i].Allow = []netip.Prefix{netip.MustParsePrefix(a + "/32")}
		}
	}
}

func withRegistry(reg *prometheus.Registry) func(*gateway.Options) {
	return func(o *gateway.Options) { o.Metrics = gateway.NewMetrics(reg) }
}

func all(fs ...func(*gateway.Options)) func(*gateway.Options) {
	return func(o *gateway.Options) {
		for _, f := range fs {
			f(o)
		}
	}
}

// Strangers (addresses outside every partner's networks) are closed at
// once, however many they are, and a partner still connects and is served.
func TestStrangersClosedAtOnce(t *testing.T) {
	leaktest.Check(t)
	reg := prometheus.NewRegistry()
	srv, addr, gs, errc := startServer(t, all(onlyFrom("127.0.0.1"), withRegistry(reg), func(o *gateway.Options) { o.MaxConns = 8 }))
	close(gs.gate)
	defer func() { srv.Close(); <-errc }()

	var strangers []*testclient.Client
	for i := 0; i < 32; i++ { // four times the total cap
		strangers = append(strangers, dialFrom(t, "127.0.0.2", addr))
	}
	for i, c := range strangers {
		if !c.Closed(5 * time.Second) {
			t.Fatalf("stranger %d kept open", i)
		}
		c.Close()
	}
	if n := metrictest.Value(t, reg, "atmgw_connections_refused_total", "cap", "stranger"); n != 32 {
		t.Errorf("strangers refused: %v, want 32", n)
	}
	c := dialFrom(t, "127.0.0.1", addr)
	defer c.Close()
	r := &rig{stan: 3000}
	signOn(t, c, r, "700")
	if resp, err := c.Do(r.request("700", panPost, "380000"), nil, 5*time.Second); err != nil || resp.ResponseCode != "00" {
		t.Fatalf("partner after the strangers: %v %+v", err, resp)
	}
	if n := metrictest.Value(t, reg, "atmgw_connections_signed_on", "institution", "700"); n != 1 {
		t.Errorf("atmgw_connections_signed_on{institution=700} %v, want 1", n)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for metrictest.Value(t, reg, "atmgw_connections_signed_on", "institution", "700") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("atmgw_connections_signed_on{institution=700} not back to 0 after the close")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With strangers admitted (test setups), the other rules still hold.
func TestStrangersAdmittedWhenConfigured(t *testing.T) {
	leaktest.Check(t)
	srv, addr, gs, errc := startServer(t, all(onlyFrom("127.0.0.1"), func(o *gateway.Options) { o.AdmitStrangers = true }))
	close(gs.gate)
	defer func() { srv.Close(); <-errc }()
	c := dialFrom(t, "127.0.0.2", addr)
	defer c.Close()
	echo := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "700", NetworkCode: "301"}
	if resp, err := c.Do(echo, nil, 5*time.Second); err != nil || resp.ResponseCode != "00" {
		t.Fatalf("echo from an admitted stranger: %v %+v", err, resp)
	}
	// Its sign-on is refused (05) and the connection closed.
	on := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000002", Institution: "700", NetworkCode: "001"}
	if resp, err := c.Do(on, nil, 5*time.Second); err != nil || resp.ResponseCode != "05" {
		t.Fatalf("sign-on from outside the allowed networks: %v %+v", err, resp)
	}
	if !c.Closed(5 * time.Second) {
		t.Fatal("connection kept after a sign-on answered 05")
	}
}

// A connection that does not sign on within the deadline is closed, echoes
// or not; one that signed on stays.
func TestSignOnDeadline(t *testing.T) {
	leaktest.Check(t)
	reg := prometheus.NewRegistry()
	srv, addr, gs, errc := startServer(t, all(withRegistry(reg), func(o *gateway.Options) { o.SignOnDeadline = 400 * time.Millisecond }))
	close(gs.gate)
	defer func() { srv.Close(); <-errc }()

	idle, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	chatty, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer chatty.Close()
	bound, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	r := &rig{stan: 3100}
	signOn(t, bound, r, "700")

	start := time.Now()
	closed := false
	for time.Since(start) < 3*time.Second && !closed {
		r.stan++
		echo := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: stanOf(r.stan), Institution: "700", NetworkCode: "301"}
		if _, err := chatty.Do(echo, nil, time.Second); err != nil {
			closed = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !closed {
		t.Fatal("echoes kept an unbound connection open past the sign-on deadline")
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("closed after %v, before the deadline", el)
	}
	if !idle.Closed(5 * time.Second) {
		t.Fatal("an idle unbound connection outlived the sign-on deadline")
	}
	if resp, err := bound.Do(r.request("700", panPost, "380000"), nil, 5*time.Second); err != nil || resp.ResponseCode != "00" {
		t.Fatalf("signed-on connection after the deadline: %v %+v", err, resp)
	}
	// The close is counted once the session has finished, just after the
	// client saw it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := metrictest.Value(t, reg, "atmgw_connections_closed_total", "reason", "no sign-on within the deadline")
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("closed for the deadline: %v, want 2", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// At most MaxUnboundPerAddress connections of one address wait unbound;
// signed-on connections do not count.
func TestUnboundCapPerAddress(t *testing.T) {
	leaktest.Check(t)
	srv, addr, gs, errc := startServer(t, func(o *gateway.Options) { o.MaxUnboundPerAddress = 3 })
	close(gs.gate)
	defer func() { srv.Close(); <-errc }()
	var cs []*testclient.Client
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		cs = append(cs, dialFrom(t, "127.0.0.1", addr))
	}
	r := &rig{stan: 3200}
	echo := func(c *testclient.Client) error {
		r.stan++
		m := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: stanOf(r.stan), Institution: "700", NetworkCode: "301"}
		_, err := c.Do(m, nil, 2*time.Second)
		return err
	}
	for i, c := range cs {
		if err := echo(c); err != nil {
			t.Fatalf("unbound connection %d under the cap: %v", i, err)
		}
	}
	over := dialFrom(t, "127.0.0.1", addr)
	if !over.Closed(5 * time.Second) {
		t.Fatal("a fourth unbound connection of one address was kept")
	}
	over.Close()
	// Another address has its own count.
	other := dialFrom(t, "127.0.0.3", addr)
	cs = append(cs, other)
	if err := echo(other); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// Signing on frees the slot.
	signOn(t, cs[0], r, "700")
	next := dialFrom(t, "127.0.0.1", addr)
	cs = append(cs, next)
	if err := echo(next); err != nil {
		t.Fatalf("after a sign-on freed a slot: %v", err)
	}
}

// panicStore panics on one card, with card data in the panic value.
type panicStore struct {
	ledger.Store
	hash string
}

func (s *panicStore) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	if q.PANHash == s.hash {
		panic(fmt.Sprintf("test bug: card %s of A123456789", panPost))
	}
	return s.Store.Inquire(ctx, q)
}

// A panic while handling one inquiry answers it 91, closes that
// connection, logs no card data, is counted, and every other connection
// keeps its service.
func TestPanicContained(t *testing.T) {
	leaktest.Check(t)
	reg := prometheus.NewRegistry()
	core, logs := observer.New(zapcore.DebugLevel)
	srv, addr, gs, errc := startServer(t, all(withRegistry(reg), func(o *gateway.Options) {
		o.Store = &panicStore{Store: o.Store, hash: o.Hasher.Hash(panPost)}
		o.Logger = zap.New(core)
	}))
	close(gs.gate)
	defer func() { srv.Close(); <-errc }()

	r := &rig{stan: 3300}
	var others []*testclient.Client
	for i := 0; i < 4; i++ {
		c, err := testclient.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		signOn(t, c, r, "700")
		others = append(others, c)
	}
	victim, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	signOn(t, victim, r, "700")

	// The others keep inquiring while the victim's inquiry panics.
	var wg sync.WaitGroup
	var mu sync.Mutex
	stan := 5000
	failures := 0
	for _, c := range others {
		wg.Add(1)
		go func(c *testclient.Client) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				mu.Lock()
				stan++
				m := (&rig{stan: stan}).request("700", panWrongDOB, "380000")
				mu.Unlock()
				if resp, err := c.Do(m, nil, 5*time.Second); err != nil || resp.ResponseCode != "25" {
					mu.Lock()
					failures++
					mu.Unlock()
				}
			}
		}(c)
	}
	resp, err := victim.Do(r.request("700", panPost, "380000"), nil, 5*time.Second)
	if err != nil || resp.ResponseCode != "91" {
		t.Fatalf("the panicking inquiry: %v %+v, want 91", err, resp)
	}
	if !victim.Closed(5 * time.Second) {
		t.Fatal("the connection of the panic stayed open")
	}
	wg.Wait()
	if failures > 0 {
		t.Fatalf("%d inquiries on other connections failed", failures)
	}
	// A new connection is served too.
	c, err := testclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	signOn(t, c, r, "808")
	if resp, err := c.Do(r.request("808", panESunEmpty, "380000"), nil, 5*time.Second); err != nil || resp.ResponseCode != "00" {
		t.Fatalf("new connection after the panic: %v %+v", err, resp)
	}
	if n := metrictest.Value(t, reg, "atmgw_panics_total", "where", "inquiry"); n != 1 {
		t.Errorf("panics counted: %v, want 1", n)
	}
	found := false
	for _, e := range logs.All() {
		line := e.Message
		for _, f := range e.Context {
			line += " " + f.String
		}
		if strings.Contains(line, panPost) || strings.Contains(line, "A123456789") {
			t.Errorf("card data in a log line: %q", e.Message)
		}
		if strings.Contains(e.Message, "panic recovered") {
			found = true
			if !strings.Contains(line, "goroutine") {
				t.Errorf("the panic's log has no stack")
			}
		}
	}
	if !found {
		t.Error("the panic was not logged")
	}
}
