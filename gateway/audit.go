package gateway

import "time"

// AuditRecord is what the audit trail keeps of one answered 0200. It holds
// the keyed PAN hash, never the PAN.
type AuditRecord struct {
	Time         time.Time // when the answer was queued
	Institution  string    // DE32
	Terminal     string    // DE41
	STAN         string    // DE11
	RRN          string    // DE37
	Service      string    // pension, insurance or other (DE3 unknown)
	PANHash      string    // keyed hash of DE2; empty when DE2 was missing or malformed
	ResponseCode string    // DE39
	Latency      time.Duration
}

// Auditor takes the audit record of every answered 0200. Audit must not
// block for long: implementations buffer and write in batches.
type Auditor interface {
	Audit(AuditRecord)
}
