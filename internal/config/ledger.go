package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/bli/atmgw/ledger/cluster"
	"github.com/bli/atmgw/ledger/postgres"
)

// MaxQueueTimeout bounds ledger.queue_timeout.
const MaxQueueTimeout = 10 * time.Second

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

// LedgerSettings are the ledger hosts and how they are called.
type LedgerSettings struct {
	Replicas []string // URLs of the read replicas of database_url, trimmed
	MaxConns int      // the PostgreSQL pool of each host
	ReadFrom string   // ReadFromReplicas or ReadFromPrimary (also in Cluster.PreferPrimary)
	// Cluster holds the deadline, breaker, attempts and concurrency limit
	// of each host; its Metrics are app's.
	Cluster cluster.Options
}

// resolve checks the ledger section and returns the settings in force: a
// key left out takes the default of postgres or cluster, as the
// packages document them (max_concurrent: max_conns; min_concurrent: a
// quarter of it; queue: 4 × max_conns, 0: none).
func (l *Ledger) resolve(p *problems) LedgerSettings {
	p.add(l.validate()...)
	s := LedgerSettings{
		MaxConns: or(l.MaxConns, postgres.DefaultMaxConns),
		ReadFrom: or(l.ReadFrom, ReadFromReplicas),
	}
	for _, u := range l.Replicas {
		s.Replicas = append(s.Replicas, strings.TrimSpace(u))
	}
	maxConc := or(l.MaxConcurrent, s.MaxConns)
	queue := cluster.DefaultQueuePerLimit * s.MaxConns
	if l.Queue != nil {
		queue = *l.Queue
	}
	if queue == 0 {
		queue = -1 // none: past the limit, an inquiry is shed at once
	}
	s.Cluster = cluster.Options{
		Guard: cluster.GuardOptions{
			Timeout:     or(time.Duration(l.Timeout), cluster.DefaultGuardTimeout),
			Failures:    uint32(or(l.Breaker.Failures, cluster.DefaultGuardFailures)),
			OpenFor:     or(time.Duration(l.Breaker.OpenFor), cluster.DefaultGuardOpenFor),
			HalfOpenMax: uint32(or(l.Breaker.HalfOpenMax, cluster.DefaultGuardHalfOpenMax)),
		},
		Attempts:      or(l.Attempts, cluster.DefaultAttempts),
		MaxConcurrent: maxConc,
		Limit: cluster.LimitOptions{
			Min:          or(l.MinConcurrent, max(1, min(maxConc, s.MaxConns)/4)),
			Queue:        queue,
			QueueTimeout: or(time.Duration(l.QueueTimeout), cluster.DefaultQueueTimeout),
		},
		PreferPrimary: s.ReadFrom == ReadFromPrimary,
	}
	return s
}

// validate checks the ledger section; each error names its key. A
// replica's URL is never quoted (it may hold a password).
func (l *Ledger) validate() []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if l.MaxConns < 0 {
		bad("ledger.max_conns: must be at least 1")
	}
	if l.MaxConcurrent < 0 {
		bad("ledger.max_concurrent: must be at least 1")
	}
	conns := or(l.MaxConns, postgres.DefaultMaxConns)
	ceiling := min(or(l.MaxConcurrent, conns), conns)
	if l.MinConcurrent < 0 {
		bad("ledger.min_concurrent: must be at least 1")
	} else if l.MaxConcurrent >= 0 && l.MaxConns >= 0 && l.MinConcurrent > ceiling {
		bad("ledger.min_concurrent: %d is more than ledger.max_concurrent or ledger.max_conns", l.MinConcurrent)
	}
	if l.Queue != nil && *l.Queue < 0 {
		bad("ledger.queue: must be 0 (no queue) or more")
	}
	if time.Duration(l.QueueTimeout) > MaxQueueTimeout {
		bad("ledger.queue_timeout: at most %v (an inquiry waits this long for its turn on a host)", MaxQueueTimeout)
	}
	if l.Attempts < 0 {
		bad("ledger.attempts: must be at least 1")
	}
	if l.Breaker.Failures < 0 || l.Breaker.HalfOpenMax < 0 {
		bad("ledger.breaker: failures and half_open_max must be positive")
	}
	switch l.ReadFrom {
	case "", ReadFromReplicas, ReadFromPrimary:
	default:
		bad("ledger.read_from: %q is not replicas or primary", l.ReadFrom)
	}
	seen := map[string]int{}
	for i, u := range l.Replicas {
		u = strings.TrimSpace(u)
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
