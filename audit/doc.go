// Package audit keeps the audit trail of the gateway: one Record per
// answered 0200 (never the PAN), written ahead of the answer by a Writer to
// PostgreSQL (audit_log) or, when the database cannot take it, to a local
// spool file that is replayed once the database is back. A record may
// also be committed in another component's transaction (the card state's
// check on the primary: Prepare, Journaled).
package audit
