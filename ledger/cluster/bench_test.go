package cluster_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bli/atmgw/card"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/cluster"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/ledger/postgres"
	"github.com/bli/atmgw/ledger/storetest"
)

// BenchmarkFreshCluster64 is the operator's case: a gateway's cluster just
// built over a healthy PostgreSQL (a generated ledger of 2,000 persons),
// warm as atmgw serve builds it (postgres.Options.Warm; the ledger keys'
// defaults: a pool of 16, deadline 300ms, breaker after 5 failures, limit
// between 4 and 16, queue 64, queue timeout 100ms), and at once 64 clients
// asking in a closed loop, b.N inquiries in all. It reports the share of
// inquiries answered ErrUnavailable (the ATM's 91), in percent
// ("%unavailable"; the target is at most 0.5, checked from 20,000
// inquiries), how often a breaker left closed ("breaker-trips"; want 0),
// and the inquiries answered per second. Run it without -race:
//
//	scripts/test -run '^$' -bench FreshCluster64 -benchtime 60000x ./ledger/cluster/
func BenchmarkFreshCluster64(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	url := pgtest.NewDatabase(b)
	l := storetest.Random(42, 2000)
	h := storetest.Hasher()
	func() {
		st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		if _, err := postgres.Migrate(ctx, st.Pool()); err != nil {
			b.Fatal(err)
		}
		if rep, err := postgres.LoadFS(ctx, st.Pool(), l.Files(), h, nil); err != nil || len(rep.Errors) > 0 {
			b.Fatal(err, rep.Errors)
		}
		if _, err := st.Pool().Exec(ctx, "VACUUM ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}()
	var qs []ledger.Query
	for _, c := range l.Consents {
		pan := strings.NewReplacer(" ", "", "-", "").Replace(c.PAN)
		for _, svc := range []card.Service{card.ServicePension, card.ServiceInsurance} {
			qs = append(qs, ledger.Query{Institution: c.Inst, PANHash: h.Hash(pan), Service: svc})
		}
	}
	// As internal/app's openLedger with the configuration's defaults.
	st, err := postgres.Open(ctx, url, postgres.Options{MaxConns: postgres.DefaultMaxConns, Warm: true})
	if err != nil {
		b.Fatal(err)
	}
	var trips atomic.Int64
	c := cluster.New(st, nil, cluster.Options{
		Guard: cluster.GuardOptions{OnStateChange: func(_, to cluster.BreakerState) {
			if to != cluster.BreakerClosed {
				trips.Add(1)
			}
		}},
		MaxConcurrent: postgres.DefaultMaxConns,
		Limit:         cluster.LimitOptions{Min: postgres.DefaultMaxConns / 4, Queue: 4 * postgres.DefaultMaxConns, QueueTimeout: 100 * time.Millisecond},
	}, nil)
	defer c.Close()

	var next, unavailable, other atomic.Int64
	var wg sync.WaitGroup
	n := int64(b.N)
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > n {
					return
				}
				_, err := c.Inquire(ctx, qs[int(i)%len(qs)])
				switch {
				case err == nil:
				case errors.Is(err, ledger.ErrUnavailable):
					unavailable.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	share := 100 * float64(unavailable.Load()) / float64(n)
	b.ReportMetric(share, "%unavailable")
	b.ReportMetric(float64(trips.Load()), "breaker-trips")
	b.ReportMetric(float64(n-unavailable.Load()-other.Load())/elapsed.Seconds(), "answers/s")
	if other.Load() > 0 {
		b.Errorf("%d inquiries neither answered nor ErrUnavailable", other.Load())
	}
	if n >= 20_000 && (share > 0.5 || trips.Load() > 0) {
		b.Errorf("%.3f%% unavailable (target 0.5%%), breaker left closed %d times", share, trips.Load())
	}
}
