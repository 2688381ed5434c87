// Package cluster puts the ledger's hosts, a primary and its read
// replicas, behind one ledger.Store: each host under a deadline and a
// circuit breaker (Guard) and an adaptive concurrency limit (Limiter), so
// that a dead, slow or overloaded database becomes ledger.ErrUnavailable
// at once; with their metrics (Metrics).
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
// excess is shed (ErrShed, with ledger.ErrUnavailable: the gateway answers
// 91): a full queue sends it to the next host at once, a wait that ran out
// counts as an attempt. The Guard's deadline starts once an inquiry is
// admitted, and its breaker counts only what the host did (errors, no
// answer in time), never the wait for a turn nor a shed inquiry. A caller
// that cancels is neither a failure of the host nor failed over. Metrics
// registers, per host (labelled by role, never by URL), the breaker state,
// the concurrency limit, the queue, the calls by outcome, their latency and
// wait, and the shed inquiries by reason.
package cluster
