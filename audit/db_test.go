package audit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bli/atmgw/ledger/pgtest"
)

// auditMigrations are the ledger's migrations that make the audit trail's
// table. The tests apply them from the ledger's migration files (the one
// schema) rather than through its migrator: ledger/postgres imports this
// package (its card state commits records with its checks).
var auditMigrations = []string{"0002_audit.sql", "0005_audit_at_brin.sql"}

// database is a fresh database on the test server with audit_log.
func database(t testing.TB) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	migrate(t, url)
	return url
}

// migrate makes audit_log in the database at url.
func migrate(t testing.TB, url string) {
	t.Helper()
	for _, name := range auditMigrations {
		sql, err := os.ReadFile(filepath.Join("..", "ledger", "postgres", "migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		pgtest.Exec(t, url, string(sql))
	}
}
