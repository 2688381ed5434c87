package main_test

// Several gateways over one primary and its streaming replica, behind a
// real HAProxy in TCP mode, as operators run them (docs/operations.md):
// the card state (decisions 7, 14, 15) is shared by every gateway and
// survives restarts; the audit trail survives kill -9; a fresh gateway
// takes a crowd at once without opening its breakers.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/pgtest"
)

// ask sends m on c and wants the answer rc (a wrong one is an error, and
// the test goes on).
func ask(t *testing.T, c *testclient.Client, m *iso.Message, rc, what string) *iso.Message {
	t.Helper()
	r, err := c.Do(m, nil, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: STAN %s: %v", what, m.STAN, err)
	}
	if r.MTI != "0210" || r.ResponseCode != rc {
		t.Errorf("%s: STAN %s: %s DE39 %s, want %s", what, m.STAN, r.MTI, r.ResponseCode, rc)
	}
	return r
}

// TestClusterSharedCardState: decisions 7, 14 and 15 hold across the two
// gateways behind HAProxy and across a restart.
func TestClusterSharedCardState(t *testing.T) {
	cl := startCluster(t, clusterOptions{gateways: 2, haproxy: true, cardRate: 10})
	const term = "CLU70001"
	a := cl.dialOn(0, "700")
	b := cl.dialOn(1, "700")

	// 14: an ATC approved at one gateway is a replay at the other.
	first := cl.inquiry("700", term, testledger.PanOK, "380000", 1)
	ask(t, a, first, "00", "gw1, ATC 1")
	ask(t, b, cl.inquiry("700", term, testledger.PanOK, "380000", 1), "63", "gw2, the same ATC 1 with a new STAN")

	// 7: the very same request (DE32+DE41+DE11+DE7) at the other gateway.
	ask(t, b, first, "94", "gw2, an exact duplicate of gw1's request")

	// 15: 11 inquiries of one card within the window, alternating gateways.
	for i := 1; i <= 11; i++ {
		c, want := a, "00"
		if i%2 == 0 {
			c = b
		}
		if i == 11 {
			want = "65"
		}
		ask(t, c, cl.inquiry("700", term, testledger.PanRate, "390000", uint16(i)), want,
			fmt.Sprintf("inquiry %d of one card, spread over both gateways", i))
	}

	// 14 across a restart: ATC 2 accepted by gw1, which stops (SIGTERM) and
	// starts again; it refuses ATC 2 and accepts ATC 3.
	ask(t, a, cl.inquiry("700", term, testledger.PanOK, "380000", 2), "00", "gw1, ATC 2")
	cl.gws[0].term()
	if !a.Closed(10 * time.Second) {
		t.Errorf("the connection to gw1 is still open after it stopped")
	}
	cl.gws[0].start()
	if !cl.gws[0].running() {
		t.FailNow()
	}
	cl.proxy.waitUp(0)
	a = cl.dialOn(0, "700")
	ask(t, a, cl.inquiry("700", term, testledger.PanOK, "380000", 2), "63", "gw1 after its restart, ATC 2 again")
	ask(t, a, cl.inquiry("700", term, testledger.PanOK, "380000", 3), "00", "gw1 after its restart, ATC 3")

	// 14, concurrently: the same ATC of one card at both gateways at once
	// (different STANs) is accepted exactly once; several rounds.
	pan := clusterPAN(0)
	for round := 1; round <= 5; round++ {
		ma := cl.inquiry("700", term, pan, "390000", uint16(round))
		mb := cl.inquiry("700", term, pan, "390000", uint16(round))
		var wg sync.WaitGroup
		var errA, errB error
		wg.Add(2)
		go func() { defer wg.Done(); errA = a.Send(ma, nil) }()
		go func() { defer wg.Done(); errB = b.Send(mb, nil) }()
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: send: %v %v", round, errA, errB)
		}
		ra, errA := a.Await(ma.STAN, 10*time.Second)
		rb, errB := b.Await(mb.STAN, 10*time.Second)
		if errA != nil || errB != nil {
			t.Fatalf("round %d: %v %v", round, errA, errB)
		}
		got := []string{ra.ResponseCode, rb.ResponseCode}
		sort.Strings(got)
		if got[0] != "00" || got[1] != "63" {
			t.Errorf("round %d: the same ATC at both gateways at once: gw1 %s, gw2 %s; want one 00 and one 63",
				round, ra.ResponseCode, rb.ResponseCode)
		}
	}

	// A consent registered online (0302) at gw1 serves the very next
	// inquiry at gw2, which reads the replica first (a decline there is
	// read again from the primary); the same 0302 again, at gw2, is a
	// duplicate and changes nothing.
	const newCard = "4700555555555555"
	ask(t, b, cl.inquiry("700", term, newCard, "380000", 1), "14", "gw2, a card without a consent")
	reg := consentMsg("700", newCard, iso.FileAdd, cl.nextSTAN(), "A100000001") // the cluster ledger's 王小明
	expect0312(t, a, reg, "00")
	ask(t, b, cl.inquiry("700", term, newCard, "380000", 2), "00", "gw2 right after the registration at gw1")
	expect0312(t, b, reg, "94")
	var online int
	pgtest.QueryRow(t, cl.primary.URL(), "SELECT count(*) FROM consents WHERE source = 'online'", &online)
	if online != 1 {
		t.Errorf("consents registered online on the primary: %d, want 1", online)
	}
}

// loadStats are the figures of a closed-loop load.
type loadStats struct {
	mu       sync.Mutex
	answered map[string]string // institution|terminal|STAN -> DE39 received
	codes    map[string]int
	lost     int // sent, never answered: the connection dropped or timed out
	dials    int // connections opened (sign-ons done)
	dialErrs int
}

func newLoadStats() *loadStats {
	return &loadStats{answered: map[string]string{}, codes: map[string]int{}}
}

func (s *loadStats) answer(key, rc string) {
	s.mu.Lock()
	s.answered[key] = rc
	s.codes[rc]++
	s.mu.Unlock()
}

func (s *loadStats) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.answered)
}

func (s *loadStats) codeList() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.codesLocked()
}

// codesLocked is codeList with s.mu held.
func (s *loadStats) codesLocked() string {
	var keys []string
	for k := range s.codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s×%d", k, s.codes[k]))
	}
	return strings.Join(out, " ")
}

// loadClient is one closed-loop client: its own terminal and card, one
// request outstanding, a new connection (through addr) whenever its
// connection drops and every lifetime or so, so that HAProxy spreads the
// clients over the gateways that are up.
type loadClient struct {
	cl       *cluster
	addr     string
	inst     string
	term     string
	pan      string
	atc      uint16
	lifetime time.Duration // 0: keep the connection until it drops
	stats    *loadStats
}

func (lc *loadClient) run(stop <-chan struct{}, maxRequests int64, sent *atomic.Int64) {
	var c *testclient.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	var until time.Time
	for {
		select {
		case <-stop:
			return
		default:
		}
		if c != nil && lc.lifetime > 0 && time.Now().After(until) {
			c.Close()
			c = nil
		}
		if c == nil {
			var err error
			c, err = testclient.Dial(lc.addr)
			if err == nil {
				err = signOn(c, lc.inst, lc.cl.nextSTAN(), 10*time.Second)
				if err != nil {
					c.Close()
					c = nil
				}
			}
			lc.stats.mu.Lock()
			if err != nil {
				lc.stats.dialErrs++
			} else {
				lc.stats.dials++
			}
			lc.stats.mu.Unlock()
			if err != nil {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				continue
			}
			until = time.Now().Add(lc.lifetime/2 + rand.N(lc.lifetime+1))
		}
		if sent.Add(1) > maxRequests {
			return
		}
		lc.atc++
		m := lc.cl.inquiry(lc.inst, lc.term, lc.pan, "380000", lc.atc)
		r, err := c.Do(m, nil, 10*time.Second)
		if err != nil {
			lc.stats.mu.Lock()
			lc.stats.lost++
			lc.stats.mu.Unlock()
			c.Close()
			c = nil
			continue
		}
		lc.stats.answer(m.Institution+"|"+m.TerminalID+"|"+m.STAN, r.ResponseCode)
	}
}

// TestClusterKill9: under a closed-loop load through HAProxy, one gateway
// is killed with SIGKILL and started again, three times; every answer a
// client received has exactly one audit record with its response code.
func TestClusterKill9(t *testing.T) {
	cl := startCluster(t, clusterOptions{gateways: 2, haproxy: true, cardRate: 0})
	const clients = 16
	stats := newLoadStats()
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		lc := &loadClient{cl: cl, addr: cl.proxy.addr, inst: "700", term: fmt.Sprintf("K9%06d", i),
			pan: clusterPAN(i), lifetime: time.Second, stats: stats}
		wg.Add(1)
		go func() { defer wg.Done(); lc.run(stop, 200000, &sent) }()
	}
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer stopLoad()

	// progress waits until the clients got n more answers (a hang guard).
	progress := func(n int, what string) {
		t.Helper()
		target := stats.total() + n
		deadline := time.Now().Add(20 * time.Second)
		for stats.total() < target {
			if time.Now().After(deadline) {
				t.Fatalf("%s: fewer than %d answers in 20 s (%s)", what, n, stats.codeList())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second)
	progress(100, "before the first kill")
	for k := 0; k < 3; k++ {
		g := cl.gws[k%2]
		stats.mu.Lock()
		before, lostBefore := len(stats.answered), stats.lost
		stats.mu.Unlock()
		g.kill9()
		t.Logf("kill -9 %s after %d answers", g.name, before)
		time.Sleep(300 * time.Millisecond)
		progress(50, fmt.Sprintf("with %s killed", g.name))
		g.start()
		if !g.running() {
			t.FailNow()
		}
		cl.proxy.waitUp(k % 2)
		time.Sleep(1500 * time.Millisecond) // the clients reconnect, half of them to it
		progress(100, fmt.Sprintf("after %s restarted", g.name))
		stats.mu.Lock()
		t.Logf("kill %d: %d answers since, %d requests lost", k+1, len(stats.answered)-before, stats.lost-lostBefore)
		stats.mu.Unlock()
	}
	time.Sleep(time.Second)
	stopLoad()
	for _, g := range cl.gws {
		g.term()
		// A stop with the database up leaves nothing in the spool: what a
		// kill -9 left there was replayed by the next start.
		if files, recs := spoolRecords(t, g.spool); recs != 0 {
			t.Errorf("%s: %d records in %d spool files after its stop with the database up", g.name, recs, files)
		}
	}

	stats.mu.Lock()
	defer stats.mu.Unlock()
	t.Logf("load: %d clients, %d requests sent, %d answered (%s), %d lost at the kills, %d connections (%d failed)",
		clients, sent.Load(), len(stats.answered), stats.codesLocked(), stats.lost, stats.dials, stats.dialErrs)
	if stats.codes["00"] < len(stats.answered)/2 {
		t.Errorf("under half of the answers approved (%s): the load did not exercise the inquiry path", stats.codesLocked())
	}
	if stats.lost == 0 {
		t.Errorf("no request was in flight at any of the three kills: the kills proved nothing")
	}
	audit := auditRows(t, cl.primary.URL(), "K9")
	missing, wrong, twice, extra := 0, 0, 0, 0
	for key, rc := range stats.answered {
		recs := audit[key]
		switch {
		case len(recs) == 0:
			missing++
			if missing <= 10 {
				t.Errorf("%s answered %s: no audit record", key, rc)
			}
		case len(recs) > 1:
			twice++
			if twice <= 10 {
				t.Errorf("%s answered %s: %d audit records %v", key, rc, len(recs), recs)
			}
		case recs[0] != rc:
			wrong++
			if wrong <= 10 {
				t.Errorf("%s answered %s: audit record says %s", key, rc, recs[0])
			}
		}
	}
	for key, recs := range audit {
		if _, ok := stats.answered[key]; !ok {
			extra++
			if len(recs) > 1 {
				t.Errorf("%s (never answered): %d audit records %v", key, len(recs), recs)
			}
		}
	}
	t.Logf("audit_log: %d records for these terminals; answers without a record %d, with a wrong code %d, recorded twice %d; records of answers never received %d",
		len(audit), missing, wrong, twice, extra)
	if extra > stats.lost {
		t.Errorf("%d audit records of requests never answered, more than the %d requests in flight at the kills", extra, stats.lost)
	}
}

// TestClusterColdStart: a gateway just started, without any traffic
// before, is driven at once by 64 closed-loop clients for 5 s: its ledger
// breakers stay closed and few answers are 91.
func TestClusterColdStart(t *testing.T) {
	cl := startCluster(t, clusterOptions{gateways: 1, cardRate: 0, ledgerTimeout: "300ms", noStart: true})
	g := cl.gws[0]
	const clients = 64
	const run = 5 * time.Second

	g.launch()
	g.waitServing()
	stats := newLoadStats()
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		// Straight to the gateway: one process under test, no proxy needed.
		lc := &loadClient{cl: cl, addr: g.listen, inst: "700", term: fmt.Sprintf("CS%06d", i), pan: clusterPAN(i), stats: stats}
		wg.Add(1)
		go func() { defer wg.Done(); lc.run(stop, 500000, &sent) }()
	}

	// The breakers, every 100 ms, while the clients run.
	var samples, open int
	hosts := map[string]bool{}
	var worst []string
	end := time.Now().Add(run)
	for time.Now().Before(end) {
		ss, err := g.metrics()
		if err != nil {
			t.Errorf("/metrics: %v", err)
		} else {
			samples++
			bad := false
			for _, s := range ss.of("atmgw_ledger_breaker_state") {
				hosts[s.labels["host"]] = true
				if s.value != 0 {
					bad = true
					worst = append(worst, fmt.Sprintf("%s=%v", s.labels["host"], s.value))
				}
			}
			if bad {
				open++
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	stats.mu.Lock()
	n, n91 := len(stats.answered), stats.codes["91"]
	stats.mu.Unlock()
	share := 0.0
	if n > 0 {
		share = float64(n91) / float64(n)
	}
	t.Logf("cold start: %d clients for %v: %d answers (%.0f/s; %s), 91 share %.2f%% (bound 5%%; target 0.5%%), %d unanswered; breakers sampled %d times over hosts %v, not closed in %d samples %v",
		clients, run, n, float64(n)/run.Seconds(), stats.codeList(), share*100, stats.lost, samples, keys(hosts), open, firstN(worst, 10))
	if samples < 10 || len(hosts) < 2 {
		t.Errorf("the breakers were sampled %d times over hosts %v: want at least 10 samples of the primary and the replica", samples, keys(hosts))
	}
	if open > 0 {
		t.Errorf("a ledger breaker left the closed state in %d of %d samples: %v", open, samples, firstN(worst, 10))
	}
	if n < 500 {
		t.Errorf("only %d answers in %v: the gateway was not driven", n, run)
	}
	if share > 0.05 {
		t.Errorf("%.2f%% of the answers of a cold gateway are 91 (%d of %d): want at most 5%%", share*100, n91, n)
	}
	if stats.lost > 0 {
		t.Errorf("%d requests of a cold gateway went unanswered", stats.lost)
	}
	g.term()
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
