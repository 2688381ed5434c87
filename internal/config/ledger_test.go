package config

import (
	"strings"
	"testing"
	"time"
)

func TestLedgerDefaultsAndKeys(t *testing.T) {
	var c Config
	if err := Parse([]byte("ledger: {max_conns: 10}\n"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	l := c.Ledger
	if l.MaxConcurrent != 40 || l.Attempts != 2 || l.ReadFrom != ReadFromReplicas || len(l.Replicas) != 0 ||
		time.Duration(l.Timeout) != 300*time.Millisecond {
		t.Errorf("defaults: %+v", l)
	}

	c = Config{}
	y := "database_url: postgres://u@p/bli\nledger:\n  replicas: [\"postgres://u:pw@r1/bli\", \" postgres://u:pw@r2/bli \"]\n" +
		"  read_from: primary\n  attempts: 3\n  max_concurrent: 7\n  breaker: {failures: 4, open_for: 1s, half_open_max: 2}\n"
	if err := Parse([]byte(y), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	l = c.Ledger
	if len(l.Replicas) != 2 || l.Replicas[1] != "postgres://u:pw@r2/bli" || l.ReadFrom != ReadFromPrimary ||
		l.Attempts != 3 || l.MaxConcurrent != 7 || l.Breaker.Failures != 4 {
		t.Errorf("keys: %+v", l)
	}
}

func TestLedgerBadKeys(t *testing.T) {
	for yaml, want := range map[string]string{
		"ledger: {read_from: nearest}\n": "ledger.read_from",
		"ledger: {attempts: -1}\n":       "ledger.attempts",
		"ledger: {max_concurrent: -5}\n": "ledger.max_concurrent",
		"ledger: {replicas: [\"\"]}\n":   "ledger.replicas[0]",
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
