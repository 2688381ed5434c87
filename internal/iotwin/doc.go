// Command iotwin is the gateway's I/O twin, for scripts/bench: a stand-in
// gateway that does for each inquiry only the I/O and the protocol work that
// any gateway for this contract and "One truth for every gateway" must do,
// and nothing else. For each 0200 it decodes the request, reads one row by
// primary key (a pipeline of the inquiries waiting, as the gateway's ledger
// readers send them; with --reads atmgw, through the gateway's own ledger
// store instead, ledger/postgres.Store: its readers and its inquiry
// statement on a loaded ledger), writes on the primary what "One truth for every
// gateway" writes for it (the request's key, the card's counter, a record:
// plain inserts, no check; one statement and one commit per batch of
// inquiries, as the gateway's card state does; with --writes atmgw, the
// gateway's own card state instead, ledger/postgres.CardState, its
// batches and its statement: the check and the audit record), encodes
// the 0210 with that row's bytes as its screen, statement and receipt (as
// large as the gateway's), signs it when the partner has a MAC key, and
// writes it (answers waiting together in one write). It makes no decision,
// lays nothing out, checks no card, keeps no breaker, metric or log.
//
// What it costs per inquiry, measured beside the gateway at the same rate,
// is what Go, pgx and the kernel's loopback cost for that I/O on this
// machine: the floor of the gateway's CPU per inquiry and of its latency.
//
//	iotwin --listen 127.0.0.1:8583 --database-url postgres://... --mac-key 812=HEX
//
// It creates its tables (iotwin_rows, iotwin_keys, iotwin_counters,
// iotwin_log) when they are missing; --writes atmgw needs atmgw's schema
// (atmgw migrate).
// Not for production: it approves everything.
package main
