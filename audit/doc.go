// Package audit keeps the audit trail of the gateway: one Record per
// answered 0200 (time, institution, terminal, STAN, RRN, service, the keyed
// PAN hash, never the PAN, response code, latency).
//
// A Writer takes records on the hot path (Add never waits on the database:
// it puts the record in a bounded buffer, or, when the buffer is full,
// appends it to the spool itself) and one goroutine writes them to
// PostgreSQL in batches, by size or every flush interval, with one
// multi-row INSERT ... ON CONFLICT (id) DO NOTHING. Every record carries a
// unique id (a random per-process prefix and a sequence), so writing a
// record twice stores it once: replays are idempotent.
//
// While the database is down, or when it refuses a batch, records go to the
// spool: an append-only file in the spool directory, one record a line
// ("<crc32c> <json>"), fsync'd per append. A torn or corrupt line (a crash
// in the middle of a write) fails its checksum and is dropped when the file
// is read; the lines around it are kept. The writer probes the database
// every probe interval; once it answers, the spool is replayed oldest first,
// in batches, while new records keep going to the database, and the file
// is truncated when the replay has caught up.
//
// Each process spools to its own file, audit-<prefix>.spool, which it
// holds locked (flock) while it runs. At Open, the files of processes that
// are gone (unlocked) are adopted: their intact lines are copied into the
// new file, which is fsync'd before the old file is removed. So a spool
// left by a crash, or by a stop while the database was down, is replayed
// by the next start, and two gateways sharing a directory never write to
// one file.
//
// Close flushes the buffer to the database (or to the spool when the
// database is down or the deadline passes), replays what it can, and keeps
// the spool file only when records remain in it.
//
// Without a database URL the spool is the trail itself (nothing is
// replayed); a later start with a database replays it. Rows the database
// refuses as invalid (never expected: fields are cleaned to valid UTF-8)
// go to audit-rejected.log in the spool directory rather than blocking the
// replay forever.
package audit
