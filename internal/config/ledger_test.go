package config

import (
	"strings"
	"testing"
	"time"
)

func TestLedgerDefaultsAndKeys(t *testing.T) {
	s := resolve(t, []byte("ledger: {max_conns: 10}\n"))
	l := s.Ledger.Cluster
	// max_concurrent is the ceiling of each host's adaptive limit (it was
	// a bulkhead of 4 × max_conns for the whole gateway): max_conns.
	if l.MaxConcurrent != 10 || l.Limit.Min != 2 || l.Limit.Queue != 40 || l.Limit.QueueTimeout != 100*time.Millisecond ||
		l.Attempts != 2 || s.Ledger.ReadFrom != ReadFromReplicas || l.PreferPrimary || len(s.Ledger.Replicas) != 0 ||
		l.Guard.Timeout != 300*time.Millisecond || s.Ledger.MaxConns != 10 {
		t.Errorf("defaults: %+v", s.Ledger)
	}
	s = resolve(t, []byte("ledger: {max_conns: 2}\n"))
	if l := s.Ledger.Cluster; l.Limit.Min != 1 || l.MaxConcurrent != 2 || l.Limit.Queue != 8 {
		t.Errorf("defaults of a pool of 2: %+v", l)
	}

	y := "database_url: postgres://u@p/bli\nledger:\n  replicas: [\"postgres://u:pw@r1/bli\", \" postgres://u:pw@r2/bli \"]\n" +
		"  read_from: primary\n  attempts: 3\n  max_concurrent: 7\n  min_concurrent: 3\n  queue: 0\n  queue_timeout: 250ms\n" +
		"  breaker: {failures: 4, open_for: 1s, half_open_max: 2}\n"
	s = resolve(t, []byte(y))
	l = s.Ledger.Cluster
	if r := s.Ledger.Replicas; len(r) != 2 || r[1] != "postgres://u:pw@r2/bli" || s.Ledger.ReadFrom != ReadFromPrimary || !l.PreferPrimary ||
		l.Attempts != 3 || l.MaxConcurrent != 7 || l.Limit.Min != 3 || l.Limit.Queue != -1 ||
		l.Limit.QueueTimeout != 250*time.Millisecond || l.Guard.Failures != 4 || l.Guard.OpenFor != time.Second || l.Guard.HalfOpenMax != 2 {
		t.Errorf("keys: %+v", s.Ledger)
	}
}

func TestLedgerBadKeys(t *testing.T) {
	for yaml, want := range map[string]string{
		"ledger: {read_from: nearest}\n":                                 "ledger.read_from",
		"ledger: {attempts: -1}\n":                                       "ledger.attempts",
		"ledger: {max_concurrent: -5}\n":                                 "ledger.max_concurrent",
		"ledger: {min_concurrent: -1}\n":                                 "ledger.min_concurrent",
		"ledger: {max_conns: 4, min_concurrent: 5}\n":                    "ledger.min_concurrent",
		"ledger: {max_conns: 8, max_concurrent: 4, min_concurrent: 6}\n": "ledger.min_concurrent",
		"ledger: {queue: -1}\n":                                          "ledger.queue",
		"ledger: {queue_timeout: 1m}\n":                                  "ledger.queue_timeout",
		"ledger: {replicas: [\"\"]}\n":                                   "ledger.replicas[0]",
		"ledger: {replicas: [\"postgres://u:secretpw@r/b\", \"postgres://u:secretpw@r/b\"]}\n": "ledger.replicas[1]",
		"ledger: {breaker: {failures: -1}}\n":                                                  "ledger.breaker",
		"ledger: {replica: [x]}\n":                                                             "replica",
	} {
		var c Config
		err := Parse([]byte(yaml), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secretpw") {
			t.Errorf("%q: want an error naming %s (and no password), got %v", yaml, want, err)
		}
	}
}
