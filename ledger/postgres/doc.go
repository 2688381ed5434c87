// Package postgres is the ledger on PostgreSQL (pgx/v5): the schema and its
// migrations (Migrate: embedded numbered SQL files, a schema_migrations
// table, one transaction under an advisory lock), the loader of the five
// load files (Load: streamed through loadfile's readers into staging tables
// with COPY, checked across rows in SQL, upserted in one transaction, the
// ready-made statements recomputed for the persons that changed), and
// Store, the ledger.Store: an inquiry is one statement, two probes by
// primary key (the consent; the person's row with its ready-made
// statement), and concurrent inquiries share a round trip (reader.go).
//
// Store reads through a pgxpool pool (Pool): a connection idle more than a
// second is pinged before use, so that most dead connections a database
// restart leaves are dropped before they fail an inquiry; a broken
// connection is destroyed when released; idle connections are closed
// after five minutes; a connection attempt gives up after 5s unless the
// URL says otherwise (connect_timeout).
//
// CardState is the card state of decisions 7, 14 and 15 (ledger.CardState)
// on the primary, shared by every gateway on the database and durable
// across restarts and crashes (migration 0003: card_duplicate_keys,
// card_counters, and the function card_state_check). Checks are grouped:
// whatever is queued when a worker is free (up to MaxBatch, default 256;
// two workers by default) goes as one call of card_state_check, one
// statement and one commit, which applies the checks in their order while
// locking rows in one global order (keys, then cards) so that gateways
// never deadlock. Times are the gateway's (CardCheck.Now). A failed batch
// fails its checks with ledger.ErrUnavailable and marks the primary down:
// checks then fail at once while a probe tries it again every second.
// Expired duplicate keys are deleted every minute; cards never are. With
// an audit trail (CardStateOptions.Journal), CheckJournaled puts an
// inquiry's audit record in its check's batch: the same statement inserts
// it into audit_log with the response code of the check's verdict, so the
// card state and the write-ahead record cost one round trip and one commit
// (ledger.Journaling).
package postgres
