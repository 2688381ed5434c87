package pgtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/bli/atmgw/ledger/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
