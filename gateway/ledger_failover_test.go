package gateway_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/config"
	"github.com/bli/atmgw/internal/gatewaytest"
	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/internal/testclient"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/iso"
	"github.com/bli/atmgw/ledger/pgtest"
)

// TestReplicaStoppedUnderLoad runs a gateway on a real PostgreSQL primary
// and its streaming replica (ledger.replicas), with partners sending 0200s
// on four connections at once, and stops the replica (the host inquiries
// read from) in the middle: every 0200 is answered, 00 or 91 (none lost,
// none timing out); the primary takes over after at most the breaker's
// failures; once the replica is back its breaker closes and it answers
// again, by itself. No goroutine is left when the gateway stops.
func TestReplicaStoppedUnderLoad(t *testing.T) {
	pg := pgtest.StartServer(t)
	testledger.Load(t, pg.URL())
	replica := pg.StartReplica(t)
	replica.WaitCaughtUp()
	spool := t.TempDir()

	const failures = 3
	leaktest.Check(t)
	t.Run("run", func(t *testing.T) {
		gw := gatewaytest.Start(t, gatewaytest.WithDatabase(pg.URL()), gatewaytest.WithoutRateLimit(),
			gatewaytest.WithConfig(func(c *config.Config) {
				c.Ledger.Replicas = []string{replica.URL()}
				c.Ledger.Timeout = config.Duration(time.Second)
				c.Ledger.Breaker = config.Breaker{Failures: failures, OpenFor: config.Duration(200 * time.Millisecond), HalfOpenMax: 2}
				c.Audit.SpoolDir = spool
			}))
		reg := gw.App.Registry
		replicaOK := func() float64 {
			return metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "replica1", "outcome", "ok")
		}

		// One card per connection, so that each card's ATC rises in order.
		cards := []struct{ inst, pan, proc string }{
			{"700", testledger.PanOK, iso.ProcInsurance},
			{"700", testledger.PanRate, iso.ProcPension},
			{"005", testledger.PanPensOnly, iso.ProcPension},
			{"808", testledger.PanEmpty, iso.ProcInsurance},
		}
		const (
			phaseUp = iota
			phaseDown
			phaseBack
		)
		var (
			phase    atomic.Int32
			approved [3]atomic.Int64
			declined [3]atomic.Int64 // 91
			mu       sync.Mutex
			problems []string
			stop     = make(chan struct{})
			wg       sync.WaitGroup
		)
		problem := func(format string, args ...any) {
			mu.Lock()
			problems = append(problems, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		for w, cd := range cards {
			c, err := testclient.Dial(gw.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			signOn := &iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: cd.inst, NetworkCode: "001"}
			if r, err := c.Do(signOn, nil, 10*time.Second); err != nil || r.ResponseCode != "00" {
				t.Fatalf("sign-on %s: %v %v", cd.inst, r, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 2; n < 20_000; n++ {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
					p := phase.Load()
					m := &iso.Message{MTI: "0200", PAN: cd.pan, ProcessingCode: cd.proc, TransmissionTime: "1124153010",
						STAN: fmt.Sprintf("%06d", n), LocalTime: "153010", LocalDate: "1124", Expiry: "3012", EntryMode: "051",
						Institution: cd.inst, RRN: fmt.Sprintf("2611240%05d", n), TerminalID: fmt.Sprintf("ATM%05d", w),
						ICC: card.BuildICC(card.ICC{CID: 0x80, ATC: uint16(n)})}
					r, err := c.Do(m, nil, 10*time.Second)
					switch {
					case err != nil:
						problem("card %d STAN %d: no answer: %v", w, n, err)
						return
					case r.ResponseCode == "00":
						approved[p].Add(1)
					case r.ResponseCode == "91":
						declined[p].Add(1)
					default:
						problem("card %d STAN %d: answered %s", w, n, r.ResponseCode)
					}
				}
			}()
		}
		var stopOnce sync.Once
		end := func() {
			stopOnce.Do(func() { close(stop) })
			wg.Wait()
		}
		defer end()
		waitApproved := func(p int32, n int64) {
			t.Helper()
			target := approved[p].Load() + n
			deadline := time.Now().Add(time.Minute)
			for approved[p].Load() < target {
				mu.Lock()
				bad := len(problems)
				mu.Unlock()
				if bad > 0 || time.Now().After(deadline) {
					end()
					t.Fatalf("phase %d: %d approved, want %d more; problems %v", p, approved[p].Load(), n, problems)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}

		waitApproved(phaseUp, 100)
		if replicaOK() < 100 || metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "primary", "outcome", "ok") != 0 {
			t.Fatalf("with both up the replica should serve every inquiry: replica %v", replicaOK())
		}
		phase.Store(phaseDown)
		replica.Stop()
		waitApproved(phaseDown, 200)
		if s := metrictest.Value(t, reg, "atmgw_ledger_breaker_state", "host", "replica1"); s == 0 {
			t.Errorf("the stopped replica's breaker is closed")
		}
		phase.Store(phaseBack)
		replica.Start()
		back := replicaOK()
		deadline := time.Now().Add(time.Minute)
		for metrictest.Value(t, reg, "atmgw_ledger_breaker_state", "host", "replica1") != 0 || replicaOK()-back < 50 {
			if time.Now().After(deadline) {
				end()
				t.Fatalf("the replica did not come back into use: %v more answers", replicaOK()-back)
			}
			time.Sleep(10 * time.Millisecond)
		}
		end()

		for _, p := range problems {
			t.Error(p)
		}
		if n := declined[phaseUp].Load() + declined[phaseBack].Load(); n != 0 {
			t.Errorf("%d inquiries answered 91 with both hosts up", n)
		}
		if n := declined[phaseDown].Load(); n > failures {
			t.Errorf("%d inquiries answered 91 while the replica was down, want at most %d", n, failures)
		}
		t.Logf("approved: up %d, down %d, back %d; 91 while down: %d",
			approved[phaseUp].Load(), approved[phaseDown].Load(), approved[phaseBack].Load(), declined[phaseDown].Load())
	})
}

// TestReplicaUnreachableAtStart: a replica that does not answer when the
// gateway starts does not stop it; inquiries are answered by the primary
// and the replica's breaker keeps it out of use.
func TestReplicaUnreachableAtStart(t *testing.T) {
	url := pgtest.NewDatabase(t)
	testledger.Load(t, url)
	spool := t.TempDir()
	gw := gatewaytest.Start(t, gatewaytest.WithDatabase(url), gatewaytest.WithoutRateLimit(),
		gatewaytest.WithConfig(func(c *config.Config) {
			c.Ledger.Replicas = []string{"postgres://postgres:secretpw@127.0.0.1:1/bli?sslmode=disable&connect_timeout=2"}
			c.Ledger.Breaker = config.Breaker{Failures: 2, OpenFor: config.Duration(time.Hour)}
			c.Audit.SpoolDir = spool
		}))
	c, err := testclient.Dial(gw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.Do(&iso.Message{MTI: "0800", TransmissionTime: "1124153000", STAN: "000001", Institution: "700", NetworkCode: "001"}, nil, 10*time.Second); err != nil || r.ResponseCode != "00" {
		t.Fatalf("sign-on: %v %v", r, err)
	}
	for n := 2; n < 12; n++ {
		m := &iso.Message{MTI: "0200", PAN: testledger.PanOK, ProcessingCode: iso.ProcInsurance, TransmissionTime: "1124153010",
			STAN: fmt.Sprintf("%06d", n), LocalTime: "153010", LocalDate: "1124", Expiry: "3012", EntryMode: "051",
			Institution: "700", RRN: fmt.Sprintf("2611240%05d", n), TerminalID: "ATM70001",
			ICC: card.BuildICC(card.ICC{CID: 0x80, ATC: uint16(n)})}
		r, err := c.Do(m, nil, 10*time.Second)
		if err != nil || r.ResponseCode != "00" {
			t.Fatalf("inquiry %d: %v %v", n, r, err)
		}
	}
	reg := gw.App.Registry
	if s := metrictest.Value(t, reg, "atmgw_ledger_breaker_state", "host", "replica1"); s != 2 {
		t.Errorf("breaker of the unreachable replica: %v, want 2 (open)", s)
	}
	if n := metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "replica1", "outcome", "error"); n != 2 {
		t.Errorf("calls that reached the unreachable replica: %v, want the breaker's 2", n)
	}
	if n := metrictest.Value(t, reg, "atmgw_ledger_calls_total", "host", "primary", "outcome", "ok"); n != 10 {
		t.Errorf("answered by the primary: %v, want 10", n)
	}
	labels, _ := metrictest.Labels(t, reg)
	for _, l := range labels {
		if strings.Contains(l.Value, "secretpw") || strings.Contains(l.Value, "127.0.0.1:1") {
			t.Errorf("%s: label %s=%q", l.Metric, l.Name, l.Value)
		}
	}
}
