package gateway

import (
	"context"
	"time"
)

// AuditRecord is what the audit trail keeps of one answered 0200. It holds
// the keyed PAN hash, never the PAN.
type AuditRecord struct {
	Time         time.Time // when the answer was decided
	Institution  string    // DE32
	Terminal     string    // DE41
	STAN         string    // DE11
	RRN          string    // DE37
	Service      string    // pension, insurance or other (DE3 unknown)
	PANHash      string    // keyed hash of DE2; empty when DE2 was missing or malformed
	ResponseCode string    // DE39
	Latency      time.Duration
}

// Auditor keeps the audit trail: write-ahead. Audit returns nil only once
// the record is durable (committed to the database, or fsync'd to the
// local spool while the database is down); the gateway writes the 0210
// only after that. Implementations group concurrent records into one
// commit or one fsync. An error means the record could not be made
// durable: the gateway then discloses nothing (it answers 91 instead of
// the approved answer) and counts it.
type Auditor interface {
	Audit(ctx context.Context, r AuditRecord) error
}
