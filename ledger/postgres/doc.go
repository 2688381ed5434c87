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
// Store reads through a pgxpool pool (Pool): a connection idle more than a
// second is pinged before use, so that most dead connections a database
// restart leaves are dropped before they fail an inquiry; a broken
// connection is destroyed when released; idle connections are closed
// after five minutes; a connection attempt gives up after 5s unless the
// URL says otherwise (connect_timeout).
package postgres
