package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Advisory lock keys (pg_advisory_xact_lock) of the migrations and of the loader.
const (
	lockMigrate int64 = 0x61746d67772d6d // "atmgw-m"
	lockLoad    int64 = 0x61746d67772d6c // "atmgw-l"
)

// migration is one numbered SQL file of migrations/: NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	ents, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same number", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// SchemaVersion is the version the embedded migrations bring a database to.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate creates or upgrades the schema: it applies, in order, the
// embedded migrations not yet recorded in schema_migrations, all in one
// transaction under an advisory lock (two migrators at once: the second
// waits, then finds nothing to do). It returns how many it applied; run
// again, it applies none. A database recording a version this binary does
// not know is refused (the binary is older than the schema).
func Migrate(ctx context.Context, pool *Pool) (int, error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	applied := 0
	err = pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockMigrate); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
			if err != nil {
				return err
			}
			done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
			if err != nil {
				return err
			}
			known := len(ms) > 0
			for _, v := range done {
				if known && int(v) > ms[len(ms)-1].version {
					return fmt.Errorf("the database schema is at version %d, newer than this binary's %d: upgrade atmgw", v, ms[len(ms)-1].version)
				}
			}
			for _, m := range ms {
				if slices.Contains(done, int32(m.version)) {
					continue
				}
				if _, err := tx.Exec(ctx, m.sql); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
				if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
					return err
				}
				applied++
			}
			if applied > 0 {
				// A migration that adds ready-made statements leaves them
				// to compute for the persons already loaded.
				return restateUnstated(ctx, tx)
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return applied, nil
}

// checkSchema reports a database whose schema is missing or older than
// this binary's.
func checkSchema(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return err
	}
	var v *int32
	if exists {
		if err := q.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
			return err
		}
	}
	want := SchemaVersion()
	switch {
	case v == nil || *v == 0:
		return fmt.Errorf("the database has no atmgw schema: run atmgw migrate")
	case int(*v) < want:
		return fmt.Errorf("the database schema is at version %d, this binary needs %d: run atmgw migrate", *v, want)
	}
	return nil
}
