package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bli/atmgw/internal/metrictest"
	"github.com/bli/atmgw/internal/testledger"
	"github.com/bli/atmgw/ledger"
	"github.com/bli/atmgw/ledger/cardstatetest"
	"github.com/bli/atmgw/ledger/pgtest"
	"github.com/bli/atmgw/ledger/postgres"
)

func openCardState(t testing.TB, url string, o postgres.CardStateOptions) *postgres.CardState {
	t.Helper()
	s, err := postgres.OpenCardState(ctxT(t), url, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func cardCheck(key, card string, atc uint16, at time.Duration) ledger.CardCheck {
	return ledger.CardCheck{Key: key, Card: true, PANHash: cardstatetest.Hash(card), ATC: atc, Now: cardstatetest.T0.Add(at)}
}

func mustCheck(t testing.TB, s ledger.CardState, c ledger.CardCheck, want ledger.CardVerdict) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := s.Check(ctx, c)
	if err != nil || v != want {
		t.Fatalf("Check(%q, ATC %d): %v %v, want %v", c.Key, c.ATC, v, err, want)
	}
}

func TestCardStateSuite(t *testing.T) {
	cardstatetest.Run(t, func(t *testing.T, o ledger.CardStateOptions) ledger.CardState {
		return openCardState(t, testledger.Database(t), postgres.CardStateOptions{CardStateOptions: o})
	})
}

// TestCardStateShared runs the shared suite on two CardStates over one
// database (two gateways), one of them sending every check alone.
func TestCardStateShared(t *testing.T) {
	cardstatetest.RunShared(t, func(t *testing.T, o ledger.CardStateOptions) (ledger.CardState, ledger.CardState) {
		url := testledger.Database(t)
		return openCardState(t, url, postgres.CardStateOptions{CardStateOptions: o}),
			openCardState(t, url, postgres.CardStateOptions{CardStateOptions: o, MaxBatch: 1, Workers: 3})
	})
}

// TestCardStateDurable closes a CardState and opens another on the same
// database (a restart): the duplicate keys, the ATCs and the rates are
// still there.
func TestCardStateDurable(t *testing.T) {
	url := testledger.Database(t)
	o := postgres.CardStateOptions{CardStateOptions: ledger.CardStateOptions{RateLimit: 2}}
	s := openCardState(t, url, o)
	mustCheck(t, s, cardCheck("K", "A", 5, 0), ledger.CardAccepted)
	s.Close()
	if _, err := s.Check(context.Background(), cardCheck("L", "A", 6, 0)); !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("check after Close: %v", err)
	}
	s = openCardState(t, url, o)
	defer s.Close()
	mustCheck(t, s, cardCheck("K", "B", 1, time.Second), ledger.CardDuplicate)
	mustCheck(t, s, cardCheck("L", "A", 5, 2*time.Second), ledger.CardReplayed)
	mustCheck(t, s, cardCheck("M", "A", 6, 3*time.Second), ledger.CardAccepted)
	mustCheck(t, s, cardCheck("N", "A", 7, 4*time.Second), ledger.CardOverRate) // 2 in the window, one before the restart
}

// TestCardStatePrune: expired duplicate keys are deleted (by Prune and by
// the pruner), the keys still in the window are kept, the cards are never
// deleted, and a card's rate times stay within its limit.
func TestCardStatePrune(t *testing.T) {
	url := testledger.Database(t)
	reg := prometheus.NewRegistry()
	s := openCardState(t, url, postgres.CardStateOptions{
		CardStateOptions: ledger.CardStateOptions{DuplicateWindow: time.Minute, RateLimit: 3},
		PruneInterval:    -1, Registerer: reg,
	})
	defer s.Close()
	ctx := ctxT(t)
	if n, err := s.Prune(ctx); n != 0 || err != nil {
		t.Fatalf("prune before any check: %d %v", n, err)
	}
	const old = 3000
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < old; i += 16 {
				c := cardCheck(fmt.Sprint("old", i), fmt.Sprint("card", i%50), uint16(i+1), time.Duration(i)*time.Millisecond)
				if _, err := s.Check(ctx, c); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	count := func(table string) (n int) {
		pgtest.QueryRow(t, url, "SELECT count(*) FROM "+table, &n)
		return n
	}
	if n := count("card_duplicate_keys"); n != old {
		t.Fatalf("%d keys, want %d", n, old)
	}
	mustCheck(t, s, cardCheck("recent", "x", 1, 2*time.Minute), ledger.CardAccepted)
	// Nothing is old enough for the latest Now (window + a minute of slack).
	if n, err := s.Prune(ctx); n != 0 || err != nil {
		t.Fatalf("prune within the slack: %d %v", n, err)
	}
	mustCheck(t, s, cardCheck("now", "y", 1, 2*time.Minute+10*time.Second), ledger.CardAccepted)
	if n, err := s.Prune(ctx); n != old || err != nil {
		t.Fatalf("prune: %d %v, want %d", n, err, old)
	}
	if n := count("card_duplicate_keys"); n != 2 {
		t.Fatalf("%d keys after pruning, want 2", n)
	}
	if v := metrictest.Value(t, reg, "atmgw_card_state_pruned_keys_total"); v != old {
		t.Errorf("pruned_keys_total %v", v)
	}
	mustCheck(t, s, cardCheck("recent", "z", 1, 2*time.Minute+20*time.Second), ledger.CardDuplicate)
	if n := count("card_counters"); n != 52 {
		t.Fatalf("%d cards, want 52: cards are never pruned", n)
	}
	var longest int
	pgtest.QueryRow(t, url, "SELECT max(cardinality(rate_times)) FROM card_counters", &longest)
	if longest > 3 {
		t.Fatalf("a card holds %d rate times, more than its limit", longest)
	}

	// The pruner does it by itself.
	p := openCardState(t, url, postgres.CardStateOptions{
		CardStateOptions: ledger.CardStateOptions{DuplicateWindow: time.Minute},
		PruneInterval:    20 * time.Millisecond,
	})
	defer p.Close()
	mustCheck(t, p, cardCheck("later", "y", 2, time.Hour), ledger.CardAccepted)
	deadline := time.Now().Add(10 * time.Second)
	for count("card_duplicate_keys") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the pruner left %d keys", count("card_duplicate_keys"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCardStateDatabaseStopped stops a private server under a CardState
// (directly and behind a Fallback): the first check fails with
// ErrUnavailable, the next ones at once; once the server is back the
// checks go to it again, its state intact.
func TestCardStateDatabaseStopped(t *testing.T) {
	srv := pgtest.StartServer(t)
	testledger.Migrate(t, srv.URL())
	core, logs := observer.New(zapcore.DebugLevel)
	reg := prometheus.NewRegistry()
	s := openCardState(t, srv.URL(), postgres.CardStateOptions{
		Timeout: 500 * time.Millisecond, ProbeInterval: 100 * time.Millisecond,
		Logger: zap.New(core), Registerer: reg,
	})
	defer s.Close()
	mem := ledger.NewMemoryCardState(ledger.CardStateOptions{})
	fellBack := 0
	f := ledger.NewFallback(s, mem, nil, func() { fellBack++ })
	mustCheck(t, s, cardCheck("K1", "A", 1, 0), ledger.CardAccepted)
	mustCheck(t, f, cardCheck("K2", "A", 2, time.Second), ledger.CardAccepted)

	srv.Stop()
	start := time.Now()
	if _, err := s.Check(context.Background(), cardCheck("K3", "A", 3, 2*time.Second)); !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("database stopped: %v", err)
	} else if strings.Contains(err.Error(), cardstatetest.Hash("A")) {
		t.Fatalf("a PAN hash in the error: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the first failure took %s", d)
	}
	start = time.Now()
	for i := range 50 {
		if _, err := s.Check(context.Background(), cardCheck(fmt.Sprint("F", i), "A", uint16(10+i), 3*time.Second)); !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("database stopped, check %d: %v", i, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second { // 25s if each waited for the deadline
		t.Fatalf("50 checks against a database marked down took %s: not failing fast", d)
	}
	if v := metrictest.Value(t, reg, "atmgw_card_state_up"); v != 0 {
		t.Errorf("up %v while down", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_card_state_checks_total", "verdict", "unavailable"); v < 51 {
		t.Errorf("unavailable checks %v", v)
	}
	// Behind a Fallback: memory answers meanwhile (it never saw ATC 2).
	mustCheck(t, f, cardCheck("K4", "A", 2, 4*time.Second), ledger.CardAccepted)
	if fellBack != 1 {
		t.Fatalf("fallbacks %d", fellBack)
	}

	srv.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := s.Check(context.Background(), ledger.CardCheck{Key: "probe" + time.Now().String(), Now: cardstatetest.T0})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database is back but checks still fail: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustCheck(t, s, cardCheck("K1", "B", 1, 5*time.Second), ledger.CardDuplicate)
	mustCheck(t, f, cardCheck("K5", "A", 2, 5*time.Second), ledger.CardReplayed) // the primary's state again
	mustCheck(t, f, cardCheck("K6", "A", 4, 6*time.Second), ledger.CardAccepted)
	if fellBack != 1 {
		t.Fatalf("fallbacks %d after the primary came back", fellBack)
	}
	if v := metrictest.Value(t, reg, "atmgw_card_state_up"); v != 1 {
		t.Errorf("up %v once back", v)
	}
	if n := logs.FilterMessageSnippet("primary unavailable").Len(); n != 1 {
		t.Errorf("%d 'unavailable' logs, want 1", n)
	}
	if n := logs.FilterMessageSnippet("primary back").Len(); n != 1 {
		t.Errorf("%d 'back' logs, want 1", n)
	}
	for _, e := range logs.All() {
		if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), cardstatetest.Hash("A")) {
			t.Errorf("a PAN hash in the log: %v", e)
		}
	}
}

// TestCardStateDeadline: a batch held up past Timeout fails its checks
// with ErrUnavailable after about Timeout; a caller whose context ends
// first gets its context's error at once; the primary, answering again,
// is used again.
func TestCardStateDeadline(t *testing.T) {
	url := testledger.Database(t)
	s := openCardState(t, url, postgres.CardStateOptions{Timeout: 700 * time.Millisecond, ProbeInterval: 50 * time.Millisecond})
	defer s.Close()
	mustCheck(t, s, cardCheck("K1", "A", 1, 0), ledger.CardAccepted)

	// Another session holds card A's row.
	ctx := ctxT(t)
	c := pgtest.Connect(t, url)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM card_counters FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	start := time.Now()
	_, err = s.Check(short, cardCheck("K2", "A", 2, time.Second))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("caller's deadline: %v after %s", err, time.Since(start))
	}
	start = time.Now()
	_, err = s.Check(context.Background(), cardCheck("K3", "A", 3, 2*time.Second))
	if !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("batch past its deadline: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Fatalf("batch past its deadline failed after %s", d)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := s.Check(context.Background(), cardCheck(fmt.Sprint("K4", time.Now()), "A", 4, 3*time.Second))
		if err == nil {
			if v != ledger.CardAccepted {
				t.Fatalf("after the lock: %v", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustCheck(t, s, cardCheck("K3", "A", 5, 4*time.Second), ledger.CardAccepted) // the failed K3 was rolled back
}

// TestCardStateGroupCommit: concurrent checks share batches: fewer
// batches than checks, each one statement.
func TestCardStateGroupCommit(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openCardState(t, testledger.Database(t), postgres.CardStateOptions{Workers: 1, Registerer: reg})
	defer s.Close()
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			mustCheck(t, s, cardCheck(fmt.Sprint("K", i), fmt.Sprint("card", i), 1, 0), ledger.CardAccepted)
		})
	}
	wg.Wait()
	batches := metrictest.Value(t, reg, "atmgw_card_state_batches_total")
	if sizes := metrictest.Value(t, reg, "atmgw_card_state_batch_size"); sizes != batches {
		t.Errorf("batch sizes observed %v, batches %v", sizes, batches)
	}
	if waits := metrictest.Value(t, reg, "atmgw_card_state_queue_wait_seconds"); waits != n {
		t.Errorf("queue waits observed %v, checks %d", waits, n)
	}
	if batches < 1 || batches >= n/2 {
		t.Errorf("%v batches for %d concurrent checks: no group commit", batches, n)
	}
	t.Logf("%d checks in %v batches", n, batches)
	if v := metrictest.Value(t, reg, "atmgw_card_state_checks_total", "verdict", "accepted"); v != n {
		t.Errorf("accepted %v", v)
	}
	labels, names := metrictest.Labels(t, reg)
	for _, name := range names {
		if !strings.HasPrefix(name, "atmgw_card_state_") {
			t.Errorf("metric %s", name)
		}
	}
	for _, l := range labels {
		if l.Name != "verdict" {
			t.Errorf("label %s on %s", l.Name, l.Metric)
		}
	}
	// A second CardState on the same registry is refused, cleanly.
	if _, err := postgres.OpenCardState(ctxT(t), testledger.Database(t), postgres.CardStateOptions{Registerer: reg}); err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Errorf("second registration: %v", err)
	}
}

func TestCardStateOpenErrors(t *testing.T) {
	ctx := ctxT(t)
	_, err := postgres.OpenCardState(ctx, "postgres://nobody:secretpw@127.0.0.1:1/bli?connect_timeout=5", postgres.CardStateOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "127.0.0.1:1") || !strings.Contains(msg, "bli") || strings.Contains(msg, "secretpw") || strings.Contains(msg, "\n") {
		t.Errorf("unreachable: %q", msg)
	}
	if !errors.Is(err, postgres.ErrUnreachable) {
		t.Errorf("unreachable: %v does not wrap ErrUnreachable", err)
	}
	for _, bad := range []string{"postgres://nobody:secretpw@127.0.0.1:notaport/bli", "host=127.0.0.1 port=abc password=secretpw"} {
		_, err = postgres.OpenCardState(ctx, bad, postgres.CardStateOptions{})
		if err == nil || strings.Contains(err.Error(), "secretpw") || !strings.Contains(err.Error(), "not valid") || errors.Is(err, postgres.ErrUnreachable) {
			t.Errorf("bad URL: %v", err)
		}
	}
	// A database without the schema.
	empty := pgtest.NewDatabase(t)
	if _, err := postgres.OpenCardState(ctx, empty, postgres.CardStateOptions{}); err == nil || !strings.Contains(err.Error(), "atmgw migrate") {
		t.Errorf("no schema: %v", err)
	}
	// A read-only server (as a replica is) is refused: the card state is written.
	ro := testledger.Database(t)
	var name string
	pgtest.QueryRow(t, ro, "SELECT current_database()", &name)
	pgtest.Exec(t, ro, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" SET default_transaction_read_only = on")
	if _, err := postgres.OpenCardState(ctx, ro, postgres.CardStateOptions{}); err == nil || !strings.Contains(err.Error(), "read-write") {
		t.Errorf("read-only: %v", err)
	}
}

// TestCardStateDeadlockRetried makes a batch deadlock with another session
// (which holds card A, then wants the batch's new key): PostgreSQL aborts
// the batch (40P01), which is tried again and answers once the other
// session is gone.
func TestCardStateDeadlockRetried(t *testing.T) {
	url := testledger.Database(t)
	reg := prometheus.NewRegistry()
	s := openCardState(t, url, postgres.CardStateOptions{Timeout: 8 * time.Second, Registerer: reg})
	defer s.Close()
	mustCheck(t, s, cardCheck("K1", "A", 1, 0), ledger.CardAccepted)

	ctx := ctxT(t)
	c := pgtest.Connect(t, url)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	// The batch's session finds the deadlock (after the server's 1s), not this one.
	if _, err := tx.Exec(ctx, "SET LOCAL deadlock_timeout = '20s'"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM card_counters FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		v   ledger.CardVerdict
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := s.Check(context.Background(), cardCheck("K2", "A", 2, time.Second))
		done <- result{v, err}
	}()
	time.Sleep(300 * time.Millisecond) // the batch holds K2 and waits for A
	if _, err := tx.Exec(ctx, "INSERT INTO card_duplicate_keys (key, seen_at) VALUES ('K2', 0)"); err != nil {
		t.Fatalf("the other session: %v", err)
	}
	// The batch was aborted (this insert went through) and now waits for K2.
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.v != ledger.CardAccepted {
		t.Fatalf("after the deadlock: %v %v", r.v, r.err)
	}
	// Once, or twice when the first retry takes K2 before the other
	// session's waiting insert does (then they deadlock again).
	if v := metrictest.Value(t, reg, "atmgw_card_state_retries_total"); v < 1 || v > 2 {
		t.Errorf("retries %v, want 1 or 2", v)
	}
	if v := metrictest.Value(t, reg, "atmgw_card_state_errors_total"); v != 0 {
		t.Errorf("errors %v, want 0", v)
	}
}

// TestCardStateStaysIndexed: the function's plans are made while the card
// table is small (a fresh database) and kept by each connection; as the
// table grows they must still find a card by its key, not read the whole
// table per check (the cost then grows with every card ever seen: it once
// made an inquiry cost PostgreSQL 4x more at 20,000 cards).
func TestCardStateStaysIndexed(t *testing.T) {
	url := testledger.Database(t)
	s := openCardState(t, url, postgres.CardStateOptions{CardStateOptions: ledger.CardStateOptions{RateLimit: -1}, Workers: 1})
	defer s.Close()
	// Plans made on a nearly empty table (PL/pgSQL goes generic after five runs).
	for i := range 20 {
		mustCheck(t, s, cardCheck(fmt.Sprintf("warm-%d", i), fmt.Sprintf("c%d", i%3), uint16(i+1), time.Duration(i)*time.Millisecond), ledger.CardAccepted)
	}
	// Statistics of a small table (autovacuum takes them within a minute
	// of the first checks), and plans made from them.
	pgtest.Exec(t, url, "ANALYZE card_counters")
	for i := range 20 {
		mustCheck(t, s, cardCheck(fmt.Sprintf("warm2-%d", i), fmt.Sprintf("c%d", i%3), uint16(100+i), time.Duration(i)*time.Millisecond), ledger.CardAccepted)
	}
	// The table grows behind the plans' back.
	var n int64
	pgtest.QueryRow(t, url, `WITH ins AS (INSERT INTO card_counters (pan_hash, atc)
		SELECT convert_to('grown-' || g, 'UTF8'), 1 FROM generate_series(1, 50000) g RETURNING 1)
		SELECT count(*) FROM ins`, &n)
	var before int64
	pgtest.QueryRow(t, url, "SELECT pg_stat_force_next_flush() IS NULL AND true, coalesce((SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'card_counters'), 0)", new(bool), &before)
	const checks = 100
	for i := range checks {
		mustCheck(t, s, cardCheck(fmt.Sprintf("grown-%d", i), fmt.Sprintf("new-%d", i), 1, time.Second), ledger.CardAccepted)
	}
	// The backend's counters reach the statistics within a second or so of going idle.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var read, upd int64
		pgtest.QueryRow(t, url, "SELECT seq_tup_read, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'card_counters'", &read, &upd)
		if upd >= 40+checks {
			t.Logf("%d checks: %d rows read by sequential scan, %d updates (table of %d cards)", checks, read-before, upd, n)
			if read-before > 5*n {
				t.Fatalf("%d checks read %d rows of card_counters by sequential scan (%d rows in the table)", checks, read-before, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Skipf("the statistics did not catch up (%d updates seen)", upd)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
