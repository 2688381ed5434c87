package config

import (
	"fmt"
	"time"

	"github.com/bli/atmgw/audit"
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

// DefaultAuditSpoolDir is audit.spool_dir when left out: under the
// systemd unit's StateDirectory.
const DefaultAuditSpoolDir = "/var/lib/atmgw/audit"

// MaxAuditBatchSize bounds one INSERT.
const MaxAuditBatchSize = 10000

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
	case "", AuditAuto, AuditDatabase, AuditSpool, AuditOff:
	default:
		errs = append(errs, fmt.Sprintf("audit.mode: %q is not one of auto, database, spool, off", a.Mode))
	}
	if a.BatchSize < 0 || a.BatchSize > MaxAuditBatchSize {
		errs = append(errs, fmt.Sprintf("audit.batch_size: must be 1 to %d", MaxAuditBatchSize))
	}
	if a.Buffer < 0 {
		errs = append(errs, "audit.buffer: must be at least 1")
	}
	return errs
}

// AuditSettings are where the audit trail goes and how it is written.
type AuditSettings struct {
	Sink string // AuditDatabase, AuditSpool or AuditOff (auto decided)
	Auto bool   // Sink was decided by audit.mode: auto
	// Options holds the spool, the batches and the database (set when
	// Sink is AuditDatabase); Logger and Registerer are app's.
	Options audit.Options
}

// resolve checks the audit section and returns the settings in force.
func (a *Audit) resolve(p *problems, databaseURL string) AuditSettings {
	p.add(a.validate()...)
	sink, err := a.Sink(databaseURL)
	if err != nil {
		p.add(err.Error())
	}
	s := AuditSettings{
		Sink: sink,
		Auto: a.Mode == "" || a.Mode == AuditAuto,
		Options: audit.Options{
			SpoolDir:      or(a.SpoolDir, DefaultAuditSpoolDir),
			BatchSize:     or(a.BatchSize, audit.DefaultBatchSize),
			Buffer:        or(a.Buffer, audit.DefaultBuffer),
			ProbeInterval: or(time.Duration(a.ProbeInterval), audit.DefaultProbeInterval),
			Timeout:       or(time.Duration(a.Timeout), audit.DefaultTimeout),
		},
	}
	if sink == AuditDatabase {
		s.Options.DatabaseURL = databaseURL
	}
	return s
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
