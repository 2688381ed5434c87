package config

import "time"

// Defaults of the ledger section.
const (
	DefaultLedgerTimeout = 300 * time.Millisecond
	DefaultMaxConns      = 16
)

// Breaker holds the circuit-breaker settings of the ledger.
type Breaker struct {
	Failures    int      `yaml:"failures"`      // consecutive failures that open it
	OpenFor     Duration `yaml:"open_for"`      // how long it stays open before probing
	HalfOpenMax int      `yaml:"half_open_max"` // probe requests allowed while half-open
}

// Ledger holds the ledger call settings.
type Ledger struct {
	Timeout  Duration `yaml:"timeout"`   // deadline of one ledger call
	MaxConns int      `yaml:"max_conns"` // PostgreSQL pool size
	Breaker  Breaker  `yaml:"breaker"`
}

// applyDefaults fills the ledger keys the file left out.
func (l *Ledger) applyDefaults() {
	if l.Timeout == 0 {
		l.Timeout = Duration(DefaultLedgerTimeout)
	}
	if l.MaxConns == 0 {
		l.MaxConns = DefaultMaxConns
	}
}

// validate checks the ledger section; each error names its key.
func (l *Ledger) validate() []string {
	var errs []string
	if l.MaxConns < 1 {
		errs = append(errs, "ledger.max_conns: must be at least 1")
	}
	return errs
}
