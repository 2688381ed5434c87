package config

import (
	"fmt"
	"time"
)

// Where the audit trail goes (audit.mode).
const (
	// AuditAuto is the default: AuditDatabase when database_url is set,
	// AuditOff on the embedded demo ledger.
	AuditAuto = "auto"
	// AuditDatabase writes to the audit_log table of the ledger's database,
	// spooling to audit.spool_dir while it is down.
	AuditDatabase = "database"
	// AuditSpool keeps the trail in audit.spool_dir only (no database;
	// allowed on the demo ledger). A later start in database mode replays it.
	AuditSpool = "spool"
	// AuditOff keeps no audit trail.
	AuditOff = "off"
)

// Defaults of the audit section.
const (
	DefaultAuditSpoolDir      = "/var/lib/atmgw/audit" // under the systemd unit's StateDirectory
	DefaultAuditBatchSize     = 500
	DefaultAuditBuffer        = 10000
	DefaultAuditProbeInterval = 5 * time.Second
	DefaultAuditTimeout       = 5 * time.Second
	// MaxAuditBatchSize bounds one INSERT.
	MaxAuditBatchSize = 10000
)

// Audit holds the audit-trail settings (see package audit). The trail is
// write-ahead: an answer leaves only once its record is committed in the
// database or fsync'd to the spool; concurrent records share one INSERT
// (one commit) or one fsync, and a batch never waits to fill.
type Audit struct {
	Mode          string   `yaml:"mode"`           // auto, database, spool or off
	SpoolDir      string   `yaml:"spool_dir"`      // the local spool (made if missing)
	BatchSize     int      `yaml:"batch_size"`     // most records per INSERT (one commit) or spool append (one fsync)
	Buffer        int      `yaml:"buffer"`         // most records queued for a batch; when full, answers wait for room
	ProbeInterval Duration `yaml:"probe_interval"` // how often a database found down is tried again
	Timeout       Duration `yaml:"timeout"`        // deadline of one database call (connect, batch); beyond, the batch is spooled
}

// validate checks the audit section; errors name the key.
func (a *Audit) validate() []string {
	var errs []string
	switch a.Mode {
	case AuditAuto, AuditDatabase, AuditSpool, AuditOff:
	default:
		errs = append(errs, fmt.Sprintf("audit.mode: %q is not one of auto, database, spool, off", a.Mode))
	}
	if a.BatchSize < 1 || a.BatchSize > MaxAuditBatchSize {
		errs = append(errs, fmt.Sprintf("audit.batch_size: must be 1 to %d", MaxAuditBatchSize))
	}
	if a.Buffer < 1 {
		errs = append(errs, "audit.buffer: must be at least 1")
	}
	return errs
}

// applyDefaults fills the audit keys the file left out.
func (a *Audit) applyDefaults() {
	if a.Mode == "" {
		a.Mode = AuditAuto
	}
	if a.SpoolDir == "" {
		a.SpoolDir = DefaultAuditSpoolDir
	}
	if a.BatchSize == 0 {
		a.BatchSize = DefaultAuditBatchSize
	}
	if a.Buffer == 0 {
		a.Buffer = DefaultAuditBuffer
	}
	if a.ProbeInterval == 0 {
		a.ProbeInterval = Duration(DefaultAuditProbeInterval)
	}
	if a.Timeout == 0 {
		a.Timeout = Duration(DefaultAuditTimeout)
	}
}

// Sink is where the trail goes with this database URL (after the
// environment and flag overrides): AuditDatabase, AuditSpool or AuditOff.
// auto is resolved; database without a database URL is an error.
func (a *Audit) Sink(databaseURL string) (string, error) {
	switch a.Mode {
	case AuditAuto, "":
		if databaseURL == "" {
			return AuditOff, nil
		}
		return AuditDatabase, nil
	case AuditDatabase:
		if databaseURL == "" {
			return "", fmt.Errorf("audit.mode: database needs database_url (the embedded demo ledger has none; use spool or off)")
		}
	}
	return a.Mode, nil
}
