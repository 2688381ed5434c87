package config

import (
	"fmt"
	"strings"
	"time"
)

// Defaults of the ledger section.
const (
	DefaultLedgerTimeout = 300 * time.Millisecond
	DefaultMaxConns      = 16
	// DefaultLedgerAttempts is how many hosts one inquiry is tried on.
	DefaultLedgerAttempts = 2
	// queue defaults to this many times max_conns.
	DefaultQueuePerConn = 4
	// DefaultQueueTimeout is the longest an inquiry waits for its turn on a host.
	DefaultQueueTimeout = 100 * time.Millisecond
	// MaxQueueTimeout bounds ledger.queue_timeout.
	MaxQueueTimeout = 10 * time.Second
)

// Where inquiries read first (ledger.read_from).
const (
	ReadFromReplicas = "replicas" // the replicas round-robin, the primary last (default)
	ReadFromPrimary  = "primary"  // the primary, the replicas when it fails
)

// Breaker holds the circuit-breaker settings of the ledger (one breaker per
// host, each with these settings).
type Breaker struct {
	Failures    int      `yaml:"failures"`      // consecutive failures that open it
	OpenFor     Duration `yaml:"open_for"`      // how long it stays open before probing
	HalfOpenMax int      `yaml:"half_open_max"` // probe requests allowed while half-open
}

// Ledger holds the ledger call settings. database_url (Config.DatabaseURL)
// is the primary; Replicas are read replicas of it.
//
// Each host has an adaptive concurrency limit (cluster.Limiter): between
// MinConcurrent and MaxConcurrent (itself at most MaxConns, the pool)
// inquiries are sent to it at once; more wait in its queue, at most Queue
// of them, each at most QueueTimeout; the excess is answered 91.
type Ledger struct {
	Timeout       Duration `yaml:"timeout"`        // deadline of one ledger call on one host, from when it has a connection
	MaxConns      int      `yaml:"max_conns"`      // PostgreSQL pool size, per host
	MaxConcurrent int      `yaml:"max_concurrent"` // ceiling of each host's concurrency limit (default and at most max_conns)
	MinConcurrent int      `yaml:"min_concurrent"` // floor of each host's concurrency limit (default max_conns/4, at least 1)
	Queue         *int     `yaml:"queue"`          // inquiries waiting per host past the limit (default 4 × max_conns; 0: none); more → 91 at once
	QueueTimeout  Duration `yaml:"queue_timeout"`  // longest wait in a host's queue; longer → next host, or 91
	Replicas      []string `yaml:"replicas"`       // URLs of read replicas of database_url
	ReadFrom      string   `yaml:"read_from"`      // replicas (default) or primary
	Attempts      int      `yaml:"attempts"`       // hosts one inquiry is tried on
	Breaker       Breaker  `yaml:"breaker"`
}

// applyDefaults fills the ledger keys the file left out.
func (l *Ledger) applyDefaults() {
	if l.Timeout == 0 {
		l.Timeout = Duration(DefaultLedgerTimeout)
	}
	if l.MaxConns == 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.MaxConcurrent == 0 {
		l.MaxConcurrent = l.MaxConns
	}
	if l.MinConcurrent == 0 {
		l.MinConcurrent = max(1, min(l.MaxConcurrent, l.MaxConns)/4)
	}
	if l.Queue == nil && l.MaxConns > 0 {
		n := DefaultQueuePerConn * l.MaxConns
		l.Queue = &n
	}
	if l.QueueTimeout == 0 {
		l.QueueTimeout = Duration(DefaultQueueTimeout)
	}
	if l.ReadFrom == "" {
		l.ReadFrom = ReadFromReplicas
	}
	if l.Attempts == 0 {
		l.Attempts = DefaultLedgerAttempts
	}
}

// validate checks the ledger section; each error names its key. A
// replica's URL is never quoted (it may hold a password).
func (l *Ledger) validate() []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if l.MaxConns < 1 {
		bad("ledger.max_conns: must be at least 1")
	}
	if l.MaxConcurrent < 1 {
		bad("ledger.max_concurrent: must be at least 1")
	}
	if l.MinConcurrent < 1 {
		bad("ledger.min_concurrent: must be at least 1")
	} else if l.MaxConcurrent >= 1 && l.MaxConns >= 1 && l.MinConcurrent > min(l.MaxConcurrent, l.MaxConns) {
		bad("ledger.min_concurrent: %d is more than ledger.max_concurrent or ledger.max_conns", l.MinConcurrent)
	}
	if l.QueueLen() < 0 {
		bad("ledger.queue: must be 0 (no queue) or more")
	}
	if time.Duration(l.QueueTimeout) > MaxQueueTimeout {
		bad("ledger.queue_timeout: at most %v (an inquiry waits this long for its turn on a host)", MaxQueueTimeout)
	}
	if l.Attempts < 1 {
		bad("ledger.attempts: must be at least 1")
	}
	if l.Breaker.Failures < 0 || l.Breaker.HalfOpenMax < 0 {
		bad("ledger.breaker: failures and half_open_max must be positive")
	}
	switch l.ReadFrom {
	case ReadFromReplicas, ReadFromPrimary:
	default:
		bad("ledger.read_from: %q is not replicas or primary", l.ReadFrom)
	}
	seen := map[string]int{}
	for i, u := range l.Replicas {
		u = strings.TrimSpace(u)
		l.Replicas[i] = u
		switch {
		case u == "":
			bad("ledger.replicas[%d]: empty", i)
		case seen[u] > 0:
			bad("ledger.replicas[%d]: the same as ledger.replicas[%d]", i, seen[u]-1)
		}
		seen[u] = i + 1
	}
	return errs
}

// QueueLen is ledger.queue (0 when not set).
func (l *Ledger) QueueLen() int {
	if l.Queue == nil {
		return 0
	}
	return *l.Queue
}
