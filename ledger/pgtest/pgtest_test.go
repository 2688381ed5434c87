package pgtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bli/atmgw/internal/leaktest"
	"github.com/bli/atmgw/ledger/pgtest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

func connect(ctx context.Context, url string) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return c.Ping(ctx)
}

func TestNewDatabaseIsDroppedAfterTheTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var url string
	t.Run("inner", func(t *testing.T) {
		url = pgtest.NewDatabase(t)
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		// A connection left open does not stop the drop.
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil || n != 0 {
			t.Fatalf("fresh database: %d tables, %v", n, err)
		}
	})
	if url == "" {
		t.Skip("inner test skipped")
	}
	if err := connect(ctx, url); err == nil {
		t.Errorf("the database is still there after its test")
	}
	if err := connect(ctx, os.Getenv(pgtest.EnvURL)); err != nil {
		t.Errorf("the server itself: %v", err)
	}
}

func TestPrivateServerStopsAndStarts(t *testing.T) {
	s := pgtest.StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := connect(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := connect(ctx, s.URL()); err == nil {
		t.Fatalf("connected to a stopped server")
	}
	s.Start()
	if err := connect(ctx, s.URL()); err != nil {
		t.Fatalf("after Start: %v", err)
	}
}

func TestReplicaFollowsItsPrimary(t *testing.T) {
	p := pgtest.StartServer(t)
	r := p.StartReplica(t)
	if !r.IsReplica() || p.IsReplica() {
		t.Fatal("IsReplica")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec := func(url, sql string) error {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, sql)
		return err
	}
	count := func() (n int, err error) {
		c, err := pgx.Connect(ctx, r.URL())
		if err != nil {
			return 0, err
		}
		defer c.Close(context.Background())
		err = c.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
		return n, err
	}
	if err := exec(p.URL(), "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	r.WaitCaughtUp()
	if n, err := count(); n != 1 || err != nil {
		t.Fatalf("replica: %d rows, %v", n, err)
	}
	if err := exec(r.URL(), "INSERT INTO t VALUES (2)"); err == nil {
		t.Errorf("the replica accepted a write")
	}
	// Stopped, the replica misses writes; started again, it catches up.
	r.Stop()
	if err := exec(p.URL(), "INSERT INTO t VALUES (3)"); err != nil {
		t.Fatal(err)
	}
	if _, err := count(); err == nil {
		t.Fatalf("read from a stopped replica")
	}
	r.Start()
	r.WaitCaughtUp()
	if n, err := count(); n != 2 || err != nil {
		t.Fatalf("replica after its restart: %d rows, %v", n, err)
	}
	// With the primary stopped the replica still serves reads.
	p.Stop()
	if n, err := count(); n != 2 || err != nil {
		t.Fatalf("replica with the primary stopped: %d rows, %v", n, err)
	}
	p.Start()
	if err := exec(p.URL(), "INSERT INTO t VALUES (4)"); err != nil {
		t.Fatal(err)
	}
	r.WaitCaughtUp()
	if n, err := count(); n != 3 || err != nil {
		t.Fatalf("replica after the primary's restart: %d rows, %v", n, err)
	}
}

func TestConnectExecQueryRow(t *testing.T) {
	url := pgtest.NewDatabase(t)
	pgtest.Exec(t, url, "CREATE TABLE t (x int)")
	pgtest.Exec(t, url, "INSERT INTO t VALUES ($1), ($2)", 7, 8)
	var sum int
	pgtest.QueryRow(t, url, "SELECT sum(x) FROM t", &sum)
	if sum != 15 {
		t.Errorf("QueryRow: sum %d, want 15", sum)
	}
	c := pgtest.Connect(t, url)
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Errorf("Connect: %d rows, %v", n, err)
	}
}
