package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/ledger/postgres"
	"github.com/bli/atmgw/ledger/storetest"
)

// answering counts the inquiries a host answered.
type answering struct {
	ledger.Store
	ok atomic.Int64
}

func (a *answering) Inquire(ctx context.Context, q ledger.Query) (ledger.Answer, error) {
	ans, err := a.Store.Inquire(ctx, q)
	if err == nil {
		a.ok.Add(1)
	}
	return ans, err
}

// Phases of a fault run.
const (
	phaseUp   = iota // every host up
	phaseDown        // one host stopped
	phaseBack        // the host started again
	phases
)

// loadRun is a load of inquiries in phases: every inquiry's result is
// counted in the phase it started in.
type loadRun struct {
	phase       atomic.Int32
	ok          [phases]atomic.Int64
	unavailable [phases]atomic.Int64
	mu          sync.Mutex
	wrong       []string // neither a right answer nor ErrUnavailable
	stop        chan struct{}
	stopOnce    sync.Once
	wg          sync.WaitGroup
}

// startLoad runs workers goroutines, each asking until stop or maxEach
// inquiries, a millisecond apart (the machine is shared). ask returns nil
// for a right answer.
func startLoad(workers, maxEach int, ask func() error) *loadRun {
	r := &loadRun{stop: make(chan struct{})}
	for range workers {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for range maxEach {
				select {
				case <-r.stop:
					return
				case <-time.After(time.Millisecond):
				}
				p := r.phase.Load()
				err := ask()
				switch {
				case err == nil:
					r.ok[p].Add(1)
				case errors.Is(err, ledger.ErrUnavailable):
					r.unavailable[p].Add(1)
				default:
					r.mu.Lock()
					r.wrong = append(r.wrong, err.Error())
					r.mu.Unlock()
				}
			}
		}()
	}
	return r
}

// waitOK waits until n more inquiries of the phase were answered (false if
// the load ended first or after a minute).
func (r *loadRun) waitOK(p int32, n int64) bool {
	target := r.ok[p].Load() + n
	deadline := time.Now().Add(time.Minute)
	for r.ok[p].Load() < target {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func (r *loadRun) end() {
	r.stopOnce.Do(func() { close(r.stop) })
	r.wg.Wait()
}

// TestClusterHostStoppedUnderLoad runs inquiries from several goroutines
// through a cluster of a real primary and its streaming replica, and stops
// the host in use in the middle: every inquiry gets a right answer or
// ErrUnavailable (none lost, none wrong), the other host takes over after
// at most the breaker's failures, and when the stopped host is back its
// breaker closes and it answers again by itself.
func TestClusterHostStoppedUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name          string
		preferPrimary bool
		stopPrimary   bool
	}{
		{"replica stopped, replicas first", false, false},
		{"primary stopped, primary first", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			primary := pgtest.StartServer(t)
			ctx := ctxT(t)
			pst, err := postgres.Open(ctx, primary.URL(), postgres.Options{MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := postgres.Migrate(ctx, pst.Pool()); err != nil {
				t.Fatal(err)
			}
			h := storetest.Hasher()
			load(t, pst, storetest.Hand().Files(), h)
			replica := primary.StartReplica(t)
			replica.WaitCaughtUp()
			rst, err := postgres.Open(ctx, replica.URL(), postgres.Options{MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			if err := rst.Check(ctx); err != nil {
				t.Fatalf("the replica: %v", err)
			}

			p, r := &answering{Store: pst}, &answering{Store: rst}
			const failures = 3
			reg := prometheus.NewRegistry()
			c := ledger.NewCluster(p, []ledger.Store{r}, ledger.ClusterOptions{
				Guard:         ledger.GuardOptions{Timeout: time.Second, Failures: failures, OpenFor: 200 * time.Millisecond, HalfOpenMax: 2},
				PreferPrimary: tc.preferPrimary,
				Metrics:       ledger.NewMetrics(reg),
			}, nil)
			defer c.Close()
			victim, victimSrv, other := r, replica, p
			victimHost := 1
			if tc.stopPrimary {
				victim, victimSrv, other = p, primary, r
				victimHost = 0
			}

			q := ledger.Query{Institution: "700", PANHash: h.Hash("4000000000000001"), Service: card.ServiceInsurance}
			const workers = 4
			run := startLoad(workers, 20_000, func() error {
				qctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				a, err := c.Inquire(qctx, q)
				if err == nil && (a.Insurance == nil || a.Insurance.SeniorityDays != storetest.HandSeniorityA) {
					return fmt.Errorf("wrong answer: %+v", a.Insurance)
				}
				if errors.Is(err, context.DeadlineExceeded) && qctx.Err() != nil {
					return fmt.Errorf("no answer in 10s: %w", err)
				}
				return err
			})
			defer run.end()

			if !run.waitOK(phaseUp, 200) {
				t.Fatalf("no answers with every host up: %d ok, %d unavailable, %v", run.ok[phaseUp].Load(), run.unavailable[phaseUp].Load(), run.wrong)
			}
			if victim.ok.Load() == 0 || other.ok.Load() != 0 {
				t.Fatalf("before the stop: the preferred host answered %d, the other %d", victim.ok.Load(), other.ok.Load())
			}
			run.phase.Store(phaseDown)
			victimSrv.Stop()
			// Once Stop has returned only the host still up can answer, but
			// an answer the stopped host gave just before may be counted
			// just after (one per worker at most).
			otherBefore, victimBefore := other.ok.Load(), victim.ok.Load()
			if !run.waitOK(phaseDown, 300) {
				t.Fatal("no failover: inquiries stopped being answered with one host down")
			}
			up, late := other.ok.Load()-otherBefore, victim.ok.Load()-victimBefore
			if late > workers || up+late < 300 {
				t.Errorf("after the stop the host still up answered %d inquiries and the stopped one %d (at most %d), want 300 between them", up, late, workers)
			}
			if st := c.Hosts()[victimHost].Breaker; st == ledger.BreakerClosed {
				t.Errorf("the stopped host's breaker is %v", st)
			}

			run.phase.Store(phaseBack)
			victimSrv.Start()
			victimBack := victim.ok.Load()
			deadline := time.Now().Add(time.Minute)
			for c.Hosts()[victimHost].Breaker != ledger.BreakerClosed || victim.ok.Load()-victimBack < 50 {
				if time.Now().After(deadline) {
					t.Fatalf("the host did not come back into use: breaker %v, %d answers", c.Hosts()[victimHost].Breaker, victim.ok.Load()-victimBack)
				}
				time.Sleep(10 * time.Millisecond)
			}
			run.end()

			if len(run.wrong) > 0 {
				t.Errorf("%d inquiries neither answered nor ErrUnavailable, e.g. %s", len(run.wrong), run.wrong[0])
			}
			if n := run.unavailable[phaseUp].Load() + run.unavailable[phaseBack].Load(); n != 0 {
				t.Errorf("%d inquiries unavailable with both hosts up", n)
			}
			// With the other host up, a failure on the stopped one is
			// retried there: at most the breaker's failures may be lost.
			if n := run.unavailable[phaseDown].Load(); n > failures {
				t.Errorf("%d inquiries unavailable while one host was down, want at most %d", n, failures)
			}
			t.Logf("up %d, down %d ok / %d unavailable, back %d; failovers %v",
				run.ok[phaseUp].Load(), run.ok[phaseDown].Load(), run.unavailable[phaseDown].Load(), run.ok[phaseBack].Load(),
				metrictest.Value(t, reg, "atmgw_ledger_failovers_total"))
		})
	}
}
