package load

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/internal/testsync"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/sim/cards"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// fake is a partner-facing server that answers sign-ons and treats each
// 0200 as act says.
type fake struct {
	l    net.Listener
	act  func(n int, m *iso.Message) string // "00".."99": answer; "drop": no answer; "close": close the connection
	mu   sync.Mutex
	n    int
	wg   sync.WaitGroup
	done chan struct{}
}

func startFake(t *testing.T, act func(n int, m *iso.Message) string) *fake {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{l: l, act: act, done: make(chan struct{})}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		close(f.done)
		l.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fake) serve(c net.Conn) {
	defer c.Close()
	go func() {
		<-f.done
		c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		frame, err := iso.ReadFrame(br, nil)
		if err != nil {
			return
		}
		m, err := iso.Decode(frame)
		if err != nil {
			return
		}
		resp := &iso.Message{STAN: m.STAN, TransmissionTime: m.TransmissionTime, Institution: m.Institution}
		switch m.MTI {
		case "0800":
			resp.MTI, resp.ResponseCode, resp.NetworkCode = "0810", "00", m.NetworkCode
		case "0200":
			f.mu.Lock()
			f.n++
			n := f.n
			f.mu.Unlock()
			a := f.act(n, m)
			switch a {
			case "drop":
				continue
			case "close":
				return
			}
			resp.MTI, resp.ResponseCode, resp.TerminalID = "0210", a, m.TerminalID
			resp.Screen = []byte("ok")
		}
		b, err := iso.Encode(resp)
		if err != nil {
			return
		}
		if iso.WriteFrame(c, b) != nil {
			return
		}
	}
}

func demoCards700() []cards.Card {
	var out []cards.Card
	for _, c := range cards.Demo().Cards {
		if c.For("700") {
			out = append(out, c)
		}
	}
	return out
}

func checkAccounting(t *testing.T, r *Report) {
	t.Helper()
	if r.Sent != r.Answered+r.TimedOut || !r.AccountingOK {
		t.Errorf("accounting broken: sent %d, answered %d, timed out %d", r.Sent, r.Answered, r.TimedOut)
	}
	var codes int64
	for _, c := range r.Codes {
		codes += c.Count
	}
	if codes != r.Answered {
		t.Errorf("response codes add up to %d, answered %d", codes, r.Answered)
	}
}

func TestRunAllAnswered(t *testing.T) {
	f := startFake(t, func(n int, m *iso.Message) string {
		if n%10 == 0 {
			return "91"
		}
		return "00"
	})
	res, err := Run(context.Background(), Config{
		Gateway: f.l.Addr().String(), Connections: 3, Cards: demoCards700(), Count: 300, Window: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	checkAccounting(t, r)
	if r.Sent != 300 || r.Answered != 300 || r.TimedOut != 0 || r.Late != 0 || r.Unknown != 0 {
		t.Errorf("report %+v", r)
	}
	got := map[string]int64{}
	for _, c := range r.Codes {
		got[c.Code] = c.Count
	}
	if got["00"] != 270 || got["91"] != 30 {
		t.Errorf("codes %v, want 270×00 and 30×91", got)
	}
	// The fake answers 00 for cards that expect 25 or 14: those are unexpected.
	if r.Unexpected == 0 {
		t.Error("no unexpected codes counted")
	}
	var total uint32
	for _, atc := range res.ATCs {
		total += uint32(atc)
	}
	if total != 300 {
		t.Errorf("ATCs went up by %d in all, want 300 (one per request)", total)
	}
}

func TestRunConnectionLost(t *testing.T) {
	// The fake closes the connection at the 50th request, with requests in
	// flight: they are timed out as lost, and the accounting still holds.
	f := startFake(t, func(n int, m *iso.Message) string {
		if n == 50 {
			return "close"
		}
		return "00"
	})
	res, err := Run(context.Background(), Config{
		Gateway: f.l.Addr().String(), Connections: 1, Cards: demoCards700(), Count: 200, Window: 4, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	checkAccounting(t, r)
	if r.Lost == 0 || r.Lost != r.TimedOut || r.ConnectionsLost != 1 {
		t.Errorf("lost %d, timed out %d, connections lost %d", r.Lost, r.TimedOut, r.ConnectionsLost)
	}
	if r.Sent >= 200 || r.Answered < 49 {
		t.Errorf("sent %d answered %d", r.Sent, r.Answered)
	}
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0], "lost") {
		t.Errorf("errors %v", r.Errors)
	}
}

func TestRunTimeouts(t *testing.T) {
	// Every 4th request is never answered: it times out (the run waits for
	// the timeout of the last ones before it ends).
	f := startFake(t, func(n int, m *iso.Message) string {
		if n%4 == 0 {
			return "drop"
		}
		return "00"
	})
	res, err := Run(context.Background(), Config{
		Gateway: f.l.Addr().String(), Connections: 2, Cards: demoCards700(), Count: 40, Window: 2, Timeout: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	checkAccounting(t, r)
	if r.Sent != 40 || r.TimedOut != 10 || r.Answered != 30 || r.Lost != 0 {
		t.Errorf("sent %d answered %d timed out %d lost %d", r.Sent, r.Answered, r.TimedOut, r.Lost)
	}
}

// TestLateAndUnknown drives one worker by hand: requests time out (the
// sweep is called with a time past their deadline), their answers come
// late; an answer with a STAN never sent is unknown; then the connection
// is lost with requests in flight.
func TestLateAndUnknown(t *testing.T) {
	client, server := net.Pipe()
	cfg := &Config{Timeout: time.Second, Window: 10, Cards: cards.Demo().Cards}
	if err := cfg.defaultsForTest(); err != nil {
		t.Fatal(err)
	}
	r := &run{cfg: cfg, pools: map[string]chan *cardState{}, alive: nil, stop: make(chan struct{})}
	pool := make(chan *cardState, 10)
	for _, c := range cfg.Cards {
		pool <- &cardState{card: c}
	}
	r.pools["700"] = pool
	r.col = NewCollector(time.Now(), time.Second)
	w := &worker{r: r, inst: "700", term: "LD000001", nc: client,
		br: bufio.NewReader(client), bw: bufio.NewWriter(client),
		slots: make(chan struct{}, 10), pending: map[string]*pending{}, expired: map[string]time.Time{}, dead: make(chan struct{})}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		w.readLoop()
	}()

	// The far side reads the requests as they come.
	got := make(chan *iso.Message, 10)
	go func() {
		br := bufio.NewReader(server)
		for {
			f, err := iso.ReadFrame(br, nil)
			if err != nil {
				close(got)
				return
			}
			m, _ := iso.Decode(f)
			got <- m
		}
	}()
	var reqs []*iso.Message
	for range 5 {
		w.slots <- struct{}{}
		cs := <-pool
		if !w.send(cs, time.Time{}) {
			t.Fatal("send failed")
		}
		w.flush()
		reqs = append(reqs, <-got)
	}
	answer := func(m *iso.Message, stan string) {
		b, _ := iso.Encode(&iso.Message{MTI: "0210", STAN: stan, ResponseCode: "00", TerminalID: m.TerminalID, Screen: []byte("x")})
		if err := iso.WriteFrame(server, b); err != nil {
			t.Fatal(err)
		}
	}
	answer(reqs[0], reqs[0].STAN) // answered in time
	waitFor(t, func(s Snapshot) bool { return s.Answered == 1 }, r.col)
	w.expire(time.Now().Add(time.Hour)) // the other four time out
	answer(reqs[1], reqs[1].STAN)       // late
	answer(reqs[2], reqs[2].STAN)       // late
	answer(reqs[2], "999999")           // never sent: unknown
	waitFor(t, func(s Snapshot) bool { return s.Late == 2 && s.Unknown == 1 }, r.col)

	// Two more in flight, then the far side hangs up.
	for range 2 {
		w.slots <- struct{}{}
		if !w.send(<-pool, time.Time{}) {
			t.Fatal("send failed")
		}
		w.flush()
		<-got
	}
	server.Close()
	<-readDone

	rep := r.col.Finish(time.Now())
	checkAccounting(t, rep)
	if rep.Sent != 7 || rep.Answered != 1 || rep.TimedOut != 6 || rep.Lost != 2 || rep.Late != 2 || rep.Unknown != 1 {
		t.Errorf("sent %d answered %d timed out %d lost %d late %d unknown %d",
			rep.Sent, rep.Answered, rep.TimedOut, rep.Lost, rep.Late, rep.Unknown)
	}
	if len(w.slots) != 0 || len(pool) != len(cfg.Cards) {
		t.Errorf("%d slots still held, %d of %d cards back", len(w.slots), len(pool), len(cfg.Cards))
	}
}

func (c *Config) defaultsForTest() error {
	c.Count = 1
	return c.defaults()
}

// waitFor waits until c's snapshot meets cond.
func waitFor(t *testing.T, cond func(Snapshot) bool, c *Collector) {
	t.Helper()
	if !testsync.Until(10*time.Second, func() bool { return cond(c.Snapshot(time.Now())) }) {
		t.Fatalf("condition never met: %+v", c.Snapshot(time.Now()))
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Config{Gateway: "127.0.0.1:1", Cards: demoCards700(), Count: 1}); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("unreachable: %v", err)
	}
	if _, err := Run(ctx, Config{Gateway: "127.0.0.1:1", Cards: demoCards700(), Institutions: []string{"005"}, Count: 1}); err == nil || !strings.Contains(err.Error(), "no card") {
		t.Errorf("no cards: %v", err)
	}
	if _, err := Run(ctx, Config{Gateway: "127.0.0.1:1", Cards: demoCards700()}); err == nil {
		t.Error("no duration nor count accepted")
	}
}

// TestRunAgainstGateway loads the real gateway (demo ledger, rate limit
// off) and checks every answer against the demo cards' expectations.
func TestRunAgainstGateway(t *testing.T) {
	addr := gatewaytest.StartDemo(t, gatewaytest.WithoutRateLimit())
	var all []cards.Card
	for _, c := range cards.Demo().Cards {
		all = append(all, c)
	}
	key := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10}
	res, err := Run(context.Background(), Config{
		Gateway: addr, Connections: 4, Institutions: []string{"700", "005", "812", "012"},
		MACKeys: map[string][]byte{"812": key}, Cards: all, Service: "mix", Count: 400, Window: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Report
	checkAccounting(t, r)
	if r.Answered != 400 || r.Unexpected != 0 || r.Unknown != 0 {
		var b strings.Builder
		r.WriteText(&b)
		t.Errorf("report:\n%s", b.String())
	}
}
