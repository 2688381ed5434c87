// Package postgres is the ledger on PostgreSQL (pgx/v5): the schema and its
// migrations (Migrate: embedded numbered SQL files, a schema_migrations
// table, one transaction under an advisory lock), the loader of the five
// load files (Load: streamed through ledger's readers into staging tables
// with COPY, checked across rows in SQL, upserted in one transaction,
// totals and coverage recomputed for the persons that changed), and Store,
// the ledger.Store an inquiry reads in one round trip: one statement that
// joins consent, person, totals, as-of date and the latest six rows through
// their indexes. An inquiry never sums over a person's rows.
//
// Store keeps its own small connection Pool (see Pool for why not pgxpool).
package postgres
