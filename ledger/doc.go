// Package ledger is the gateway's view of the Bureau's core ledger: the
// Store interface an inquiry asks (Query, Answer), the statement types, the
// semantics of docs/interface.md, section 6, as pure functions
// (PensionTotals, LatestPension, LatestInsurance, Coverage), and CardState,
// the per-card state of decisions 7, 14 and 15, with its in-memory
// implementation and Fallback; and ConsentRegistry, the consents registered
// online (section 11), with the rule that reconciles them with the core
// ledger's export (ResolveRegistration; atmgw load likewise: the later signed
// date wins). It knows nothing of ISO 8583.
//
// The rest lives in subpackages, none of which ledger imports:
// ledger/loadfile parses the load files, ledger/demo holds the embedded
// demo ledger and the in-memory Store, ledger/cluster puts each host behind
// a breaker and a concurrency limit, and ledger/postgres is the PostgreSQL
// Store and card state.
package ledger
