// Package ledger is the gateway's view of the Bureau's core ledger: the Store
// interface, the statement types, the embedded demo ledger (an in-memory
// Store loaded from CSV files built into the binary), the parser of the
// five load files, Guard, the wrapper that puts every call under a
// deadline and a circuit breaker so that a dead or slow database becomes
// ErrUnavailable at once, and Cluster, a primary and its read replicas
// behind one Store, with their metrics (Metrics). The PostgreSQL store
// lives in ledger/postgres.
//
// It knows nothing of ISO 8583.
//
// # Card state
//
// CardState keeps what decisions 7 (duplicate window), 14 (highest
// accepted ATC per card) and 15 (per-card rate) share across requests:
// Check is one atomic step per request. MemoryCardState keeps it in this
// process (the embedded demo ledger; tests); postgres.CardState keeps it
// on the primary, shared by every gateway and durable, grouping concurrent
// checks into one statement and one commit; Fallback puts memory behind
// the primary for an operator who prefers that to answering 91 while the
// primary is down. One suite (package cardstatetest) runs against each.
//
// # Several hosts
//
// A Cluster gives each host (the primary, "replica1", ...) a Guard and a
// Limiter of its own and reads an inquiry from one host, trying the next
// when it fails, at most Attempts hosts (default 2), each under the Guard's
// deadline; a host whose breaker is open is skipped without cost, and comes
// back into use by itself when its probes succeed after OpenFor. By default
// the replicas are read first, round-robin, and the primary last: the
// primary takes the nightly load and the audit trail's writes, the replicas
// are there to take the reads, and the primary still serves when every
// replica is down. With PreferPrimary the primary is read first (a
// deployment whose replicas are for standby only). A replica may lag: the
// ledger changes once a night, so a lagging replica shows the previous
// export, with its as-of date, for as long as it lags.
//
// Each host's Limiter is an adaptive concurrency limit (AIMD after
// Netflix's concurrency-limits: it grows while calls succeed at a steady
// latency and shrinks by a factor on timeouts), between LimitOptions.Min
// and MaxConcurrent, itself at most the host's connection pool (Pooled),
// so that an admitted inquiry always finds a connection. Past the limit an
// inquiry waits in a bounded queue (Queue long, QueueTimeout at most); the
// excess is shed (ErrShed, with ErrUnavailable: the gateway answers 91): a
// full queue sends it to the next host at once, a wait that ran out counts
// as an attempt. The Guard's deadline starts once an inquiry is admitted,
// and its breaker counts only what the host did (errors, no answer in
// time), never the wait for a turn nor a shed inquiry. A caller that
// cancels is neither a failure of the host nor failed over. Metrics
// registers, per host (labelled by role, never by URL), the breaker state,
// the concurrency limit, the queue, the calls by outcome, their latency and
// wait, and the shed inquiries by reason.
//
// # Load files
//
// The readers (NewPersonsReader, NewPensionReader, NewInsuranceReader,
// NewConsentsReader, ReadAsOf) stream one file each, one row in memory at a
// time, and check each row; a bad row is reported as a RowError (file, line,
// reason) and skipped, the good rows go on. A reason never holds a PAN or a
// national ID in clear. The checks that span rows (a repeated key, a ledger
// row of an unknown person) are the stores' (ReadFS for memory, SQL for
// PostgreSQL), with the same reasons (Reason*) so both report alike.
//
// Choices where the contract is silent:
//   - whole-file errors stop the load, nothing is loaded: a missing file, an
//     empty one, a header other than the contract's (names compared without
//     case; a UTF-8 byte order mark is skipped; the bad header is not echoed,
//     it could be a data row), an as_of.txt that is not one date;
//   - fields are trimmed; kinds, services and status compare without case;
//     a national ID is a letter, a letter or digit, and eight digits
//     (national ID or resident certificate; no checksum), made upper-case;
//     a PAN is 12 to 19 digits, spaces and hyphens dropped, and only its
//     keyed hash (card.PANHasher) is kept; an institution 1 to 11 digits;
//   - dates are YYYY-MM-DD, periods YYYY-MM; the dates a statement shows
//     (events, periods, as-of) must have a three-digit ROC year (1912 to
//     2910); birth and signing dates from 1900;
//   - an insurance event after the as-of date is refused (the export cannot
//     know it, and seniority counts to the as-of date);
//   - amounts are whole TWD within the 12 digits of DE62, insured salaries
//     0 to 9,999,999 (7 digits); entry ids positive;
//   - names 1 to 50 characters, unit names up to 200 (empty allowed for
//     pension rows, such as earnings; required for insurance events, since
//     coverage is per unit); no control characters;
//   - a repeated key within a file (national ID, entry id, institution and
//     PAN) is refused, the first good row wins; a ledger row whose person is
//     neither in persons.csv nor already loaded is refused; a consent may
//     name an unknown person (the gateway answers 25).
//
// # Semantics
//
// PensionTotals, LatestPension, LatestInsurance and Coverage are section 6
// of the contract as pure functions, used by both stores. Coverage keeps a
// person's seniority in a form (Cover) that does not depend on the as-of
// date, so that stores compute it when loading and an inquiry only adds the
// days of the open intervals.
package ledger
