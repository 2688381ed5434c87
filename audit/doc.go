// Package audit keeps the audit trail of the gateway: one Record per
// answered 0200 (time, institution, terminal, STAN, RRN, service, the keyed
// PAN hash, never the PAN, response code, latency).
//
// The trail is write-ahead: Writer.Write returns only once its record is
// durable — committed in PostgreSQL (audit_log), or appended to the local
// spool and fsync'd — and the gateway sends the answer only then, so a
// crash (kill -9, power loss) loses no record of an answer that left.
// Write puts the record in a bounded queue (Options.Buffer; when full,
// Write waits for room until its ctx ends) and waits for its batch. Two
// batch writers (two batches in flight, each on a connection of its own,
// opened at Open and kept warm) take what is queued, up to BatchSize,
// without waiting for more (group commit): one multi-row INSERT ... ON
// CONFLICT (id) DO NOTHING, one commit, for all the records that arrived
// while the previous batch was committing. An answer waits about one
// commit longer; throughput is that of batches (BenchmarkWrite). A
// connection that died idle (a database restart) is replaced once before
// the database counts as down. Every record carries a unique id (a random per-process prefix
// and a sequence), so writing a record twice stores it once: replays are
// idempotent.
//
// When the database is down, fails a batch or takes longer than Timeout,
// or there is none, the batch goes to the spool instead: one append and
// one fsync (concurrent appends share an fsync). A batch that failed or
// timed out may have been committed all the same (the answer lost on the
// way): it is spooled anyway and replayed under the same ids, and ON
// CONFLICT keeps one row. When neither the database nor the spool takes a
// record, Write returns an error (counted in
// atmgw_audit_write_errors_total): the caller must not disclose the
// answer. So does a Write whose ctx ends first: a record no batch has
// taken yet is withdrawn; one already taken may still be stored (the
// trail errs on the side of recording). After a failed fsync the spool
// takes nothing more (the kernel may have dropped the pages; a later fsync
// could not tell).
//
// Open connects at once (warm: the first answers do not wait for a
// connection); a database down at Open does not fail it: records are
// spooled and the database is probed.
//
// The spool is an append-only file in the spool directory, one record a
// line ("<crc32c> <json>"), fsync'd per append. A torn or corrupt line (a crash
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
// Close writes what is queued to the database (or to the spool when the
// database is down or the deadline passes), replays what it can, and keeps
// the spool file only when records remain in it. Write after Close returns
// ErrClosed.
//
// Without a database URL the spool is the trail itself (nothing is
// replayed); a later start with a database replays it. Rows the database
// refuses as invalid (never expected: fields are cleaned to valid UTF-8)
// go to audit-rejected.log in the spool directory rather than blocking the
// replay forever.
package audit
