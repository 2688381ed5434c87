package gateway

import (
	"context"

	"github.com/bli/atmgw/audit"
)

// Auditor keeps the audit trail: write-ahead. The record is the audit
// package's (audit.Record): the gateway fills it (every field but ID) and
// hands it over. Audit returns nil only once
// the record is durable (committed to the database, or fsync'd to the
// local spool while the database is down); the gateway writes the 0210
// only after that. Implementations group concurrent records into one
// commit or one fsync. An error means the record could not be made
// durable: the gateway then discloses nothing (it answers 91 instead of
// the approved answer) and counts it.
type Auditor interface {
	Audit(ctx context.Context, r audit.Record) error
}
