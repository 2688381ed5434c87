package postgres_test

import (
	"context"
	"errors"
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

// TestGuardWithDatabaseStopped stops a private PostgreSQL under a guarded
// store: inquiries fail with ErrUnavailable, the breaker opens (then no
// call reaches the database), and once the server is back the store
// answers again by itself, with the same pool.
func TestGuardWithDatabaseStopped(t *testing.T) {
	srv := pgtest.StartServer(t)
	ctx := ctxT(t)
	st, err := postgres.Open(ctx, srv.URL(), postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, st.Pool()); err != nil {
		t.Fatal(err)
	}
	h := storetest.Hasher()
	load(t, st, storetest.Hand().Files(), h)

	inner := &storetest.Counting{Store: st}
	var opened atomic.Int64
	g := cluster.Guard(inner, cluster.GuardOptions{
		Timeout: 300 * time.Millisecond, Failures: 3, OpenFor: 200 * time.Millisecond, HalfOpenMax: 2,
		OnStateChange: func(from, to cluster.BreakerState) {
			if to == cluster.BreakerOpen {
				opened.Add(1)
			}
		},
	}, nil)
	defer g.Close()
	q := ledger.Query{Institution: "700", PANHash: h.Hash("4000000000000001"), Service: card.ServiceInsurance}
	ask := func() (ledger.Answer, error) { return g.Inquire(context.Background(), q) }

	// Warm: several connections in the pool.
	for range 4 {
		if a, err := ask(); err != nil || a.Insurance == nil || a.Insurance.SeniorityDays != storetest.HandSeniorityA {
			t.Fatalf("before the stop: %+v %v", a.Insurance, err)
		}
	}

	srv.Stop()
	for i := range 3 {
		if _, err := ask(); !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("call %d with the database stopped: %v", i, err)
		}
	}
	if g.State() != cluster.BreakerOpen || opened.Load() != 1 {
		t.Fatalf("breaker %v after 3 failures (opened %d times)", g.State(), opened.Load())
	}
	n := inner.Calls.Load()
	for range 50 {
		if _, err := ask(); !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("open breaker: %v", err)
		}
	}
	if g.State() == cluster.BreakerOpen && inner.Calls.Load() > n+2 {
		t.Errorf("%d calls reached the stopped database through an open breaker", inner.Calls.Load()-n)
	}

	srv.Start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, err := ask()
		if err == nil {
			if a.Insurance == nil || a.Insurance.SeniorityDays != storetest.HandSeniorityA {
				t.Fatalf("after the restart: %+v", a.Insurance)
			}
			break
		}
		if !errors.Is(err, ledger.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("the store did not come back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 10 {
		if _, err := ask(); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
	if g.State() != cluster.BreakerClosed {
		t.Errorf("breaker %v after recovery", g.State())
	}
}
