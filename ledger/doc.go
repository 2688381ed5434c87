// Package ledger is the gateway's view of the Bureau's core ledger: the Store
// interface, the statement types, the embedded demo ledger (an in-memory
// Store loaded from CSV files built into the binary), the parser of the
// five load files, and Guard, the wrapper that puts every call under a
// deadline and a circuit breaker so that a dead or slow database becomes
// ErrUnavailable at once. The PostgreSQL store lives in ledger/postgres.
//
// It knows nothing of ISO 8583.
package ledger
